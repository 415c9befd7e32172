package app

import (
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// A registry chained to a team mirror uses the account stored for the
// team mirror's host:port, then the registry's own; a registry at its
// built-in endpoint, or one with no setting, uses its own name alone; the
// upstreams are read at each lookup, so a change of them counts at once.
func TestChainedKeyringCredentials(t *testing.T) {
	keyring.MockInit()
	for key, user := range map[string]string{"team.example:5000": "teamuser", "docker.io": "hubuser", "ghcr.io": "ghuser"} {
		if err := secrets.Set(key, secrets.Credential{Username: user, Password: user + "-pw"}); err != nil {
			t.Fatal(err)
		}
	}
	ups := map[string]string{
		"docker.io": "https://Team.Example:5000",
		"ghcr.io":   mirror.BuiltinUpstreams()["ghcr.io"],
		"quay.io":   "https://other.example",
	}
	creds := ChainedKeyringCredentials(func() map[string]string { return ups })
	for _, tc := range []struct{ registry, user string }{
		{"docker.io", "teamuser"}, // the team mirror's account
		{"ghcr.io", "ghuser"},     // its built-in endpoint: its own
		{"quay.io", ""},           // nothing stored for either key
		{"registry.k8s.io", ""},   // no setting, nothing stored
	} {
		user, password, ok, err := creds(tc.registry)
		if err != nil || ok != (tc.user != "") || user != tc.user || (ok && password != tc.user+"-pw") {
			t.Errorf("%s: %q, %q, %v, %v; want %q", tc.registry, user, password, ok, err, tc.user)
		}
	}
	ups["docker.io"] = "https://hub-cache.example"
	if user, _, ok, err := creds("docker.io"); err != nil || !ok || user != "hubuser" {
		t.Errorf("nothing stored for the team mirror's host: %q, %v, %v; want docker.io's own account", user, ok, err)
	}
	if user, _, _, _ := KeyringCredentials()("docker.io"); user != "hubuser" {
		t.Errorf("KeyringCredentials: %q, want docker.io's own account", user)
	}
}
