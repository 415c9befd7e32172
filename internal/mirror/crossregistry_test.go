package mirror

import (
	"net/http"
	"strings"
	"testing"
)

// A public repository on one registry must not open a private repository of
// the same name on another. Anyone can publish quay.io/someuser/private; that
// says nothing about docker.io's someuser/private, which alice cached.
func TestSelfAuthAccessIsPerRegistry(t *testing.T) {
	tm, hub, quay, _, _ := twoRegistries(t, func(c *Config) {
		c.Access.SelfAuth = true
		c.Upstreams["quay.io"] = c.Upstreams["ghcr.io"]
		delete(c.Upstreams, "ghcr.io")
		c.Aliases = nil
	})
	hub.AddUser("alice", "alice-pw")
	secret := hub.AddImage("someuser/private", "v1", []byte("alice's private layer"))
	hub.SetPrivate("someuser/private", "alice")
	quay.AddImage("someuser/private", "v1", []byte("a public look-alike"))

	_, alice := tm.login(t, "alice", "alice-pw", "someuser/private")
	if got := tm.pullWith(t, alice, "someuser/private", secret); got != http.StatusOK {
		t.Fatalf("alice pulls her image: %d", got)
	}

	attack := func(t *testing.T, then func(), paths ...string) {
		t.Helper()
		_, anon := tm.login(t, "", "", "someuser/private", "quay.io/someuser/private")
		if r := tm.do(t, http.MethodHead, "/v2/quay.io/someuser/private/manifests/v1",
			"Authorization", "Bearer "+anon, "Accept", fullAccept); r.status != http.StatusOK {
			t.Fatalf("the look-alike on quay.io is public: %d", r.status)
		}
		then()
		for _, p := range paths {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := tm.do(t, method, p, "Authorization", "Bearer "+anon, "Accept", fullAccept)
				if r.status == http.StatusOK || strings.Contains(string(r.body), "private layer") {
					t.Errorf("anonymous %s %s: %d, want a refusal", method, p, r.status)
				}
			}
		}
	}
	attack(t, func() {},
		"/v2/someuser/private/blobs/"+secret.Layers[0].Digest,
		"/v2/someuser/private/blobs/"+secret.Config.Digest,
		"/v2/someuser/private/manifests/"+secret.Digest,
		"/v2/someuser/private/manifests/v1",
	)
	// Docker Hub unreachable: the offline path must not open it either.
	attack(t, func() { hub.SetDown(true) }, "/v2/someuser/private/manifests/v1", "/v2/someuser/private/manifests/"+secret.Digest)
}
