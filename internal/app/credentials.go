package app

import (
	"errors"
	"net/url"
	"strings"
	"sync"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// KeyringCredentials reads registry accounts from the OS keyring by
// registry name. When the keyring cannot be used it says so once, in one
// line, and the mirror pulls anonymously.
func KeyringCredentials() mirror.Credentials { return ChainedKeyringCredentials(nil) }

// ChainedKeyringCredentials is KeyringCredentials for a mirror whose
// registries may go to other endpoints: upstreams returns the "upstreams"
// in force. A registry sent to an endpoint that is not its built-in one
// (docker.io to a team mirror at https://team.example:5000) uses the
// account stored for that endpoint's host (`hubmirror login
// team.example:5000`) when there is one, and the registry's own account
// otherwise. upstreams may be nil: registry names alone.
func ChainedKeyringCredentials(upstreams func() map[string]string) mirror.Credentials {
	var once sync.Once
	return func(registry string) (string, string, bool, error) {
		for _, key := range credentialKeys(registry, upstreams) {
			c, err := secrets.Get(key)
			if errors.Is(err, secrets.ErrNotFound) {
				continue
			}
			if err != nil {
				var first error
				once.Do(func() { first = err })
				return "", "", false, first
			}
			return c.Username, c.Password, true, nil
		}
		return "", "", false, nil
	}
}

// credentialKeys are the keyring entries that may hold registry's
// account, in the order they are tried: the host of its endpoint when
// that endpoint is not the registry's built-in one, then the registry's
// name.
func credentialKeys(registry string, upstreams func() map[string]string) []string {
	if upstreams == nil {
		return []string{registry}
	}
	endpoint, ok := upstreams()[registry]
	if !ok || endpoint == mirror.BuiltinUpstreams()[registry] {
		return []string{registry}
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || strings.EqualFold(u.Host, registry) {
		return []string{registry}
	}
	return []string{strings.ToLower(u.Host), registry}
}
