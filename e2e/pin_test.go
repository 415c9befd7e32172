package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

func blobCached(cacheDir, d string) bool {
	_, err := os.Stat(filepath.Join(cacheDir, "blobs", "sha256", d[7:9], d[7:]))
	return err == nil
}

// TestPrefetchThenOffline: `hubmirror prefetch` before a trip, then the
// image pulls with Docker Hub unreachable.
func TestPrefetchThenOffline(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	amd := hub.AddPlatformImage("library/multi", "", "linux/amd64", randomBytes(40_000, 1))
	arm := hub.AddPlatformImage("library/multi", "", "linux/arm64", randomBytes(40_000, 2))
	hub.AddIndex("library/multi", "1", fakehub.MediaTypeOCIIndex, map[string]fakehub.Image{"linux/amd64": amd, "linux/arm64": arm})
	cacheDir := filepath.Join(t.TempDir(), "cache")
	config := filepath.Join(t.TempDir(), "settings.json")
	env := isolatedEnv(t)
	out, code := hubmirror(t, env, "", "prefetch", "--platform", "linux/arm64", "--listen", "127.0.0.1:1",
		"--cache-dir", cacheDir, "--config", config, "--upstream", "docker.io="+hub.URL(), "multi:1")
	if code != 0 || !strings.Contains(out, "multi:1") {
		t.Fatalf("prefetch: exit %d: %s", code, out)
	}
	if !blobCached(cacheDir, arm.Layers[0].Digest) || blobCached(cacheDir, amd.Layers[0].Digest) {
		t.Errorf("prefetch --platform linux/arm64 cached arm64 %v, amd64 %v",
			blobCached(cacheDir, arm.Layers[0].Digest), blobCached(cacheDir, amd.Layers[0].Digest))
	}
	hub.SetDown(true)
	m := startMirrorEnv(t, hub.URL(), cacheDir, env)
	req, _ := http.NewRequest(http.MethodGet, m.URL("/v2/multi/manifests/1"), nil)
	req.Header.Set("Accept", fakehub.MediaTypeOCIIndex)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Hubmirror-Cache") != "offline" {
		t.Errorf("offline pull of the prefetched tag: %d %s", resp.StatusCode, resp.Header.Get("X-Hubmirror-Cache"))
	}
	fetchBlobOK(t, m, "library/multi", arm.Layers[0])
}

// TestPinCommands: `hubmirror pin add` while the mirror runs makes it fetch
// the image by itself; ls and rm edit the list.
func TestPinCommands(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := hub.AddImage("library/alpine", "3.20", randomBytes(30_000, 3))
	cacheDir := filepath.Join(t.TempDir(), "cache")
	env := isolatedEnv(t)
	m := startMirrorEnv(t, hub.URL(), cacheDir, env)
	args := []string{"--config", m.ConfigPath}
	if out, code := hubmirror(t, env, "", append(append([]string{"pin", "add"}, args...), "alpine:3.20")...); code != 0 {
		t.Fatalf("pin add: %d %s", code, out)
	}
	testutil.Eventually(t, "the pinned image fetched by the running mirror", func() bool { return blobCached(cacheDir, img.Layers[0].Digest) })
	if out, _ := hubmirror(t, env, "", append([]string{"pin", "ls"}, args...)...); strings.TrimSpace(out) != "alpine:3.20" {
		t.Errorf("pin ls: %q", out)
	}
	if out, code := hubmirror(t, env, "", append(append([]string{"pin", "rm"}, args...), "alpine:3.20")...); code != 0 {
		t.Errorf("pin rm: %d %s", code, out)
	}
	if out, code := hubmirror(t, env, "", append(append([]string{"pin", "rm"}, args...), "alpine:3.20")...); code == 0 || !strings.Contains(out, "not pinned") {
		t.Errorf("pin rm of an image not pinned: %d %s", code, out)
	}
	if out, code := hubmirror(t, env, "", append(append([]string{"pin", "add"}, args...), "Not A Ref")...); code == 0 {
		t.Errorf("pin add of a bad reference: %d %s", code, out)
	}
}
