package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestCacheCommandsWhileServing: `hubmirror cache ls|verify|prune|clear`
// work while `hubmirror serve` runs on the cache directory, through it
// (issue 13: they refused, the directory being locked), and on the
// directory itself once it has stopped.
func TestCacheCommandsWhileServing(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := hub.AddImage("library/alpine", "3.20", randomBytes(20_000, 11), randomBytes(20_000, 12))
	env := isolatedEnv(t)
	m := startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "cache"), env)
	for _, l := range img.Layers {
		fetchBlobOK(t, m, "library/alpine", l)
	}
	status(t, m.URL("/v2/alpine/manifests/3.20"))
	testutil.Eventually(t, "the layers committed", func() bool {
		return blobCached(m.CacheDir, img.Layers[0].Digest) && blobCached(m.CacheDir, img.Layers[1].Digest)
	})
	cache := func(args ...string) (string, int) {
		t.Helper()
		return hubmirror(t, env, "", append(append([]string{"cache"}, args...), "--cache-dir", m.CacheDir, "--config", m.ConfigPath)...)
	}
	out, code := cache("ls")
	if code != 0 || !strings.Contains(out, "docker.io/library/alpine:3.20") || !strings.Contains(out, "asking it") {
		t.Fatalf("cache ls while serving: exit %d:\n%s", code, out)
	}
	bad := img.Layers[1].Digest
	if err := os.WriteFile(filepath.Join(m.CacheDir, "blobs", "sha256", bad[7:9], bad[7:]), []byte("rot"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code = cache("verify")
	if code == 0 || !strings.Contains(out, "corrupt, removed: "+bad) || blobCached(m.CacheDir, bad) {
		t.Errorf("cache verify of a corrupt blob while serving: exit %d:\n%s", code, out)
	}
	out, code = cache("prune", "--to", "0")
	if code != 0 || !strings.Contains(out, "Removed") || blobCached(m.CacheDir, img.Layers[0].Digest) {
		t.Errorf("cache prune --to 0 while serving: exit %d:\n%s", code, out)
	}
	fetchBlobOK(t, m, "library/alpine", img.Layers[0]) // the mirror serves on, downloading again
	testutil.Eventually(t, "the layer cached again", func() bool { return blobCached(m.CacheDir, img.Layers[0].Digest) })
	out, code = cache("clear", "--yes")
	if code != 0 || !strings.Contains(out, "The cache is empty.") || blobCached(m.CacheDir, img.Layers[0].Digest) {
		t.Errorf("cache clear --yes while serving: exit %d:\n%s", code, out)
	}
	if strings.Contains(m.log.String(), "api-key") && strings.Contains(m.log.String(), "level=ERROR") {
		t.Errorf("the mirror logged errors:\n%s", m.log)
	}
	m.stop(t)
	out, code = cache("ls")
	if code != 0 || strings.Contains(out, "asking it") || strings.Contains(out, "alpine") {
		t.Errorf("cache ls after the mirror stopped: exit %d:\n%s", code, out)
	}
}

// TestPrefetchThroughSelfAuthServe: `hubmirror prefetch` against a
// running `hubmirror serve --self-auth` logs in to it with the Docker Hub
// account `hubmirror login` stored in the keyring (issue 13: it sent no
// credentials and failed with 401).
func TestPrefetchThroughSelfAuthServe(t *testing.T) {
	keyringSession(t)
	const password = "alice-prefetch-pw-51c2"
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.AddUser("alice", password)
	img := hub.AddImage("library/alpine", "3.20", randomBytes(30_000, 13))
	env := isolatedEnv(t)
	m := startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "cache"), env, "--self-auth", "--allow-user", "alice")
	up := "docker.io=" + hub.URL()
	prefetch := func() (string, int) {
		return hubmirror(t, env, "", "prefetch", "alpine:3.20", "--listen", m.Addr, "--config", m.ConfigPath, "--upstream", up)
	}
	if out, code := prefetch(); code == 0 || !strings.Contains(out, "hubmirror login") {
		t.Errorf("prefetch with no account stored: exit %d, want a hint to log in:\n%s", code, out)
	}
	if out, code := hubmirror(t, env, password+"\n", "login", "-u", "alice", "--password-stdin", "--config", m.ConfigPath, "--upstream", up); code != 0 {
		t.Fatalf("login: exit %d: %s", code, out)
	}
	t.Cleanup(func() { hubmirror(t, env, "", "logout") })
	out, code := prefetch()
	if code != 0 || !strings.Contains(out, "alpine:3.20") {
		t.Fatalf("prefetch through the self_auth mirror: exit %d:\n%s\n%s", code, out, m.log)
	}
	testutil.Eventually(t, "the layer in the mirror's cache", func() bool { return blobCached(m.CacheDir, img.Layers[0].Digest) })
	if strings.Contains(out+m.log.String(), password) {
		t.Errorf("the password appears in the output or the log")
	}
}

// TestFlagsAfterArguments: the binary reads flags after the arguments
// (issue 13: `pin add alpine:3.20 --config F` took --config for an image),
// and `serve --help` writes them --name under the command's usage.
func TestFlagsAfterArguments(t *testing.T) {
	env := isolatedEnv(t)
	config := filepath.Join(t.TempDir(), "settings.json")
	if out, code := hubmirror(t, env, "", "pin", "add", "alpine:3.20", "--config", config); code != 0 {
		t.Fatalf("pin add IMAGE --config F: exit %d: %s", code, out)
	}
	if out, _ := hubmirror(t, env, "", "pin", "ls", "--config", config); strings.TrimSpace(out) != "alpine:3.20" {
		t.Errorf("pin ls --config F: %q", out)
	}
	out, code := hubmirror(t, env, "", "serve", "--help")
	if code != 0 || strings.Contains(out, "Usage of") || !strings.Contains(out, "--listen HOST:PORT") || strings.Contains(out, "\n  -listen") {
		t.Errorf("serve --help: exit %d:\n%s", code, out)
	}
}
