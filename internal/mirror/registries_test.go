package mirror

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// twoRegistries starts a mirror with docker.io and ghcr.io sent to two fake
// hubs holding the same image name with different content.
func twoRegistries(t *testing.T, change func(*Config)) (tm *testMirror, hub, ghcr *fakehub.Hub, onHub, onGHCR fakehub.Image) {
	t.Helper()
	hub, ghcr = newHub(t), newHub(t)
	onHub = hub.AddImage("owner/app", "1", []byte("docker hub's layer"))
	onGHCR = ghcr.AddImage("owner/app", "1", []byte("ghcr's layer"))
	tm = startMirrorCfg(t, hub, func(c *Config) {
		c.Upstreams = map[string]string{"docker.io": hub.URL(), "ghcr.io": ghcr.URL()}
		c.Aliases = map[string]string{"ghcr.mirror.lan": "ghcr.io"}
		if change != nil {
			change(c)
		}
	})
	return tm, hub, ghcr, onHub, onGHCR
}

// The same name from two registries, through a path prefix, ?ns= and a
// host alias, gives each registry's own content.
func TestRegistriesByPrefixNamespaceAndAlias(t *testing.T) {
	tm, hub, ghcr, onHub, onGHCR := twoRegistries(t, nil)
	for _, tc := range []struct {
		name, path, host string
		want             fakehub.Image
	}{
		{"no prefix", "/v2/owner/app/manifests/1", "", onHub},
		{"prefix", "/v2/ghcr.io/owner/app/manifests/1", "", onGHCR},
		{"prefix docker.io", "/v2/docker.io/owner/app/manifests/1", "", onHub},
		{"ns", "/v2/owner/app/manifests/1?ns=ghcr.io", "", onGHCR},
		{"ns docker.io", "/v2/owner/app/manifests/1?ns=docker.io", "", onHub},
		{"alias", "/v2/owner/app/manifests/1", "ghcr.mirror.lan", onGHCR},
		{"alias with port", "/v2/owner/app/manifests/1", "GHCR.mirror.lan:5000", onGHCR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tm.base+tc.path, nil)
			req.Header.Set("Accept", fullAccept)
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := readAll(resp)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != tc.want.Digest || string(body) != string(tc.want.Manifest) {
				t.Errorf("got %d %s, want %s", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"), tc.want.Digest)
			}
		})
	}
	for _, img := range []struct {
		prefix string
		img    fakehub.Image
	}{{"", onHub}, {"ghcr.io/", onGHCR}} {
		r := tm.get(t, "/v2/"+img.prefix+"owner/app/blobs/"+img.img.Layers[0].Digest)
		if r.status != http.StatusOK || sha(r.body) != img.img.Layers[0].Digest {
			t.Errorf("blob via %q: %d", img.prefix, r.status)
		}
	}
	// Tags of the two registries never mix, also when served offline.
	hub.SetDown(true)
	ghcr.SetDown(true)
	if r := tm.get(t, "/v2/owner/app/manifests/1", "Accept", fullAccept); r.header.Get("Docker-Content-Digest") != onHub.Digest {
		t.Errorf("docker.io offline: %d %s", r.status, r.header.Get("Docker-Content-Digest"))
	}
	if r := tm.get(t, "/v2/ghcr.io/owner/app/manifests/1", "Accept", fullAccept); r.header.Get("Docker-Content-Digest") != onGHCR.Digest {
		t.Errorf("ghcr.io offline: %d %s", r.status, r.header.Get("Docker-Content-Digest"))
	}
}

// A registry nobody configured gets a clear error, before anything goes
// upstream.
func TestUnknownRegistry(t *testing.T) {
	tm, hub, ghcr, _, _ := twoRegistries(t, nil)
	for _, path := range []string{
		"/v2/registry.example.com/owner/app/manifests/1",
		"/v2/owner/app/manifests/1?ns=registry.example.com",
	} {
		r := tm.get(t, path)
		if r.status != http.StatusNotFound || errorCode(t, r) != codeNameUnknown || !strings.Contains(string(r.body), "--upstream registry.example.com=") {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	if r := tm.get(t, "/v2/ghcr.io/manifests/1"); r.status < 400 || r.status >= 500 {
		t.Errorf("a registry prefix with no repository: %d", r.status)
	}
	if len(hub.Requests())+len(ghcr.Requests()) != 0 {
		t.Errorf("unknown registries caused upstream requests")
	}
	if _, err := New(Config{Listen: "127.0.0.1:0", CacheDir: t.TempDir(), Aliases: map[string]string{"x.lan": "nowhere.example"}}); err == nil {
		t.Errorf("an alias to an unknown registry was accepted")
	}
}

// Each registry's stored account goes to that registry's token service
// only.
func TestCredentialsPerRegistry(t *testing.T) {
	accounts := map[string][2]string{"docker.io": {"alice", "alice-hub-pw"}, "ghcr.io": {"bobby", "bobby-ghcr-pw"}}
	tm, hub, ghcr, _, _ := twoRegistries(t, func(c *Config) {
		c.Credentials = func(registry string) (string, string, bool, error) {
			a, ok := accounts[registry]
			return a[0], a[1], ok, nil
		}
	})
	hub.AddUser("alice", "alice-hub-pw")
	ghcr.AddUser("bobby", "bobby-ghcr-pw")
	hubPriv := hub.AddImage("alice/private", "1", []byte("alice's"))
	hub.SetPrivate("alice/private", "alice")
	ghcrPriv := ghcr.AddImage("bobby/private", "1", []byte("bob's"))
	ghcr.SetPrivate("bobby/private", "bobby")

	tm.pull(t, "alice/private", hubPriv)
	tm.pull(t, "ghcr.io/bobby/private", ghcrPriv)
	for _, tc := range []struct {
		hub      *fakehub.Hub
		want     string
		mustNot  string
		registry string
	}{
		{hub, "alice:alice-hub-pw", "bobby", "docker.io"},
		{ghcr, "bobby:bobby-ghcr-pw", "alice", "ghcr.io"},
	} {
		seen := false
		for _, r := range tc.hub.Requests() {
			scheme, v, _ := strings.Cut(r.Authorization, " ")
			if scheme != "Basic" {
				continue
			}
			raw, _ := base64.StdEncoding.DecodeString(v)
			if string(raw) == tc.want && r.Server == fakehub.ServerAuth {
				seen = true
			}
			if strings.HasPrefix(string(raw), tc.mustNot+":") {
				t.Errorf("%s received %s's credentials", tc.registry, tc.mustNot)
			}
		}
		if !seen {
			t.Errorf("%s never saw its own account", tc.registry)
		}
	}
}

// With self_auth, a token is for one registry's repository: a token for
// docker.io's owner/app does not pull ghcr.io/owner/app, and the other way.
func TestSelfAuthScopesPerRegistry(t *testing.T) {
	tm, _, _, onHub, onGHCR := twoRegistries(t, func(c *Config) { c.Access.SelfAuth = true })
	_, hubTok := tm.login(t, "", "", "owner/app")
	_, ghcrTok := tm.login(t, "", "", "ghcr.io/owner/app")
	for _, tc := range []struct {
		tok, name string
		img       fakehub.Image
		want      int
	}{
		{hubTok, "owner/app", onHub, http.StatusOK},
		{ghcrTok, "ghcr.io/owner/app", onGHCR, http.StatusOK},
		{hubTok, "ghcr.io/owner/app", onGHCR, http.StatusUnauthorized},
		{ghcrTok, "owner/app", onHub, http.StatusUnauthorized},
	} {
		if got := tm.pullWith(t, tc.tok, tc.name, tc.img); got != tc.want {
			t.Errorf("pull %s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// The request log line names the registry and the tag or digest, so that a
// ghcr.io pull and a docker.io pull of the same name are told apart.
func TestLogLineNamesRegistryAndReference(t *testing.T) {
	tm, _, _, _, onGHCR := twoRegistries(t, nil)
	tm.get(t, "/v2/owner/app/manifests/1", "Accept", fullAccept)
	tm.get(t, "/v2/ghcr.io/owner/app/blobs/"+onGHCR.Layers[0].Digest)
	logs := tm.logs.String()
	for _, want := range []string{
		"registry=docker.io name=owner/app ref=1 ",
		"registry=ghcr.io name=owner/app ref=" + onGHCR.Layers[0].Digest + " ",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no request line with %q in:\n%s", want, logs)
		}
	}
}
