//go:build !nogui

package desktop

import (
	"errors"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
	"github.com/hubmirror/hubmirror/internal/ui"
	"github.com/hubmirror/hubmirror/internal/version"
)

// uiBackend is the backend as the windows and the tray see it: its
// keyring errors also carry ui.ErrKeyringUnavailable, which ui (kept free
// of go-keyring) and the window process's connection understand; and it
// has what only the desktop app shows, About and ApplySetup.
type uiBackend struct {
	*app.Backend
	// applySetup is Options.ApplySetup.
	applySetup func(client string) (string, error)
}

var _ ui.Backend = uiBackend{}

func (b uiBackend) Account() (string, error) {
	user, err := b.Backend.Account()
	return user, keyringErr(err)
}

func (b uiBackend) SaveAccount(user, password string) error {
	return keyringErr(b.Backend.SaveAccount(user, password))
}

func (b uiBackend) TestAccount(user, password string) error {
	return keyringErr(b.Backend.TestAccount(user, password))
}

func (b uiBackend) RemoveAccount() error { return keyringErr(b.Backend.RemoveAccount()) }

// ApplySetup is `hubmirror setup CLIENT --apply` with the default files,
// for the mirror as it runs now (its settings file and address); what it
// prints is the report.
func (b uiBackend) ApplySetup(client string) (string, error) {
	if b.applySetup == nil {
		return "", errors.New("this app cannot set up clients")
	}
	return b.applySetup(client)
}

// About says what the About window shows.
func (b uiBackend) About() ui.AboutInfo {
	rev, modified := version.Commit()
	return ui.AboutInfo{
		Version: version.String(), Commit: rev, Modified: modified,
		SettingsFile: b.Path(), CacheDir: b.Settings().CacheDir, LogFile: b.LogFile(),
	}
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
