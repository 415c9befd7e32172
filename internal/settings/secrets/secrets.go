// Package secrets keeps registry credentials in the OS keyring (macOS
// Keychain, Windows Credential Manager, the Secret Service on Linux). It is
// the only package that talks to the keyring; nothing it stores is ever
// written to a file or a log.
package secrets

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/zalando/go-keyring"
)

// service is the keyring service name; each registry is one entry in it.
const service = "hubmirror"

// Credential is a registry account.
type Credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Sentinel errors.
var (
	// ErrNotFound means no credentials are stored for the registry.
	ErrNotFound = errors.New("no credentials stored")
	// ErrUnavailable means the OS keyring cannot be used.
	ErrUnavailable = errors.New("the OS keyring is not available")
)

// unavailableHint tells people what to do when the keyring cannot be used.
const unavailableHint = "on Linux, run a Secret Service (GNOME Keyring or KeePassXC) and unlock it; " +
	"on a server without a desktop, start `dbus-run-session` and `gnome-keyring-daemon --unlock`. " +
	"Until then hubmirror pulls anonymously"

// Get returns the credentials stored for registry.
func Get(registry string) (Credential, error) {
	raw, err := keyring.Get(service, registry)
	if err != nil {
		return Credential{}, wrap(registry, err)
	}
	var c Credential
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.Username == "" {
		return Credential{}, fmt.Errorf("credentials for %s in the keyring are damaged; run hubmirror login %s again", registry, registry)
	}
	return c, nil
}

// Set stores credentials for registry, replacing any there were.
func Set(registry string, c Credential) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return wrap(registry, keyring.Set(service, registry, string(raw)))
}

// Delete removes the credentials of registry; ErrNotFound if there were none.
func Delete(registry string) error {
	return wrap(registry, keyring.Delete(service, registry))
}

// wrap maps keyring errors to this package's sentinels. The keyring's own
// message names the D-Bus or OS error, never a secret.
func wrap(registry string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return fmt.Errorf("%s: %w", registry, ErrNotFound)
	default:
		return fmt.Errorf("%w (%v): %s", ErrUnavailable, err, unavailableHint)
	}
}
