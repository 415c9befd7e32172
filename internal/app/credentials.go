package app

import (
	"errors"
	"sync"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// KeyringCredentials reads registry accounts from the OS keyring. When the
// keyring cannot be used it says so once, in one line, and the mirror
// pulls anonymously.
func KeyringCredentials() mirror.Credentials {
	var once sync.Once
	return func(registry string) (string, string, bool, error) {
		c, err := secrets.Get(registry)
		switch {
		case err == nil:
			return c.Username, c.Password, true, nil
		case errors.Is(err, secrets.ErrNotFound):
			return "", "", false, nil
		}
		var first error
		once.Do(func() { first = err })
		return "", "", false, first
	}
}
