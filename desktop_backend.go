//go:build !nogui

package main

import (
	"bytes"
	"errors"
	"runtime"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// uiBackend is the backend as the windows and the tray see it: its
// keyring errors also carry ui.ErrKeyringUnavailable, which ui (kept free
// of go-keyring) and the window process's connection understand.
type uiBackend struct{ *backend }

var _ ui.Backend = uiBackend{}

func (b uiBackend) Account() (string, error) {
	user, err := b.backend.Account()
	return user, keyringErr(err)
}

func (b uiBackend) SaveAccount(user, password string) error {
	return keyringErr(b.backend.SaveAccount(user, password))
}

func (b uiBackend) TestAccount(user, password string) error {
	return keyringErr(b.backend.TestAccount(user, password))
}

func (b uiBackend) RemoveAccount() error { return keyringErr(b.backend.RemoveAccount()) }

// ApplySetup is `hubmirror setup CLIENT --apply` with the default files,
// for the mirror as it runs now (its settings file and address); what it
// prints is the report.
func (b uiBackend) ApplySetup(client string) (string, error) {
	var out bytes.Buffer
	args := []string{client, "--apply", "--config", b.path, "--host", clientsetup.ClientHost(b.Settings().Listen)}
	err := runSetup(i18n.FromEnv(), runtime.GOOS, args, &out, &out)
	return out.String(), err
}

// keyringErr marks err with ui.ErrKeyringUnavailable when it says the OS
// keyring could not be used; its message stays.
func keyringErr(err error) error {
	if err == nil || !errors.Is(err, secrets.ErrUnavailable) {
		return err
	}
	return keyringError{err}
}

// keyringError is an error of the keyring's, as ui knows it.
type keyringError struct{ error }

func (e keyringError) Unwrap() []error { return []error{e.error, ui.ErrKeyringUnavailable} }
