package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// twoHubs starts a mirror with docker.io and ghcr.io sent to two fake hubs
// that hold owner/app:1 with different content.
func twoHubs(t *testing.T) (m *mirror, onHub, onGHCR fakehub.Image, ghcrURL string) {
	t.Helper()
	hub, ghcr := fakehub.New(), fakehub.New()
	t.Cleanup(hub.Close)
	t.Cleanup(ghcr.Close)
	onHub = hub.AddImage("owner/app", "1", fakehub.Layer(map[string]string{"from": "docker hub\n"}))
	onGHCR = ghcr.AddImage("owner/app", "1", fakehub.Layer(map[string]string{"from": "ghcr\n"}))
	m = startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "cache"), isolatedEnv(t), "--upstream", "ghcr.io="+ghcr.URL())
	return m, onHub, onGHCR, ghcr.URL()
}

// TestSkopeoThroughSetupPodman writes registries.conf with `hubmirror setup
// podman` and lets skopeo find the mirror by itself: docker.io and ghcr.io
// images come through the mirror from their own registries.
func TestSkopeoThroughSetupPodman(t *testing.T) {
	s := newSkopeo(t)
	m, onHub, onGHCR, ghcrURL := twoHubs(t)
	conf, code := hubmirror(t, isolatedEnv(t), "", "setup", "podman", "--host", m.Addr,
		"--config", m.ConfigPath, "--upstream", "ghcr.io="+ghcrURL)
	if code != 0 {
		t.Fatalf("hubmirror setup podman: exit %d: %s", code, conf)
	}
	regConf := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(regConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref  string
		want fakehub.Image
	}{
		{"docker.io/owner/app:1", onHub},
		{"ghcr.io/owner/app:1", onGHCR},
	} {
		dir := filepath.Join(t.TempDir(), "layout")
		// skopeo 1.9 reads registries.conf from --registries-conf, not from
		// CONTAINERS_REGISTRIES_CONF.
		args := append(slices.Clone(s.global), "--registries-conf", regConf, "copy", "--quiet", "docker://"+tc.ref, "oci:"+dir)
		runTool(t, s.env, s.bin, args...)
		if lc := readLayout(t, dir); !sameSet(lc.Layers, layerDigests(tc.want)) {
			t.Errorf("%s: layers %v, want %v (that registry's own)", tc.ref, lc.Layers, layerDigests(tc.want))
		}
	}
	if !strings.Contains(m.log.String(), "name=owner/app") {
		t.Errorf("the copies did not go through the mirror:\n%s", m.log)
	}
}

// TestCraneWithPathPrefix pulls a ghcr.io image as ADDR/ghcr.io/owner/app.
func TestCraneWithPathPrefix(t *testing.T) {
	c := newCrane(t)
	m, onHub, onGHCR, _ := twoHubs(t)
	for _, tc := range []struct {
		ref  string
		want fakehub.Image
	}{
		{m.Addr + "/ghcr.io/owner/app:1", onGHCR},
		{m.Addr + "/owner/app:1", onHub},
	} {
		if got := strings.TrimSpace(string(c.run(t, "digest", tc.ref))); got != tc.want.Digest {
			t.Errorf("crane digest %s = %s, want %s", tc.ref, got, tc.want.Digest)
		}
		out := c.pull(t, tc.ref, "oci")
		if lc := readLayout(t, out); !sameSet(lc.Layers, layerDigests(tc.want)) {
			t.Errorf("crane pull %s: layers %v, want %v", tc.ref, lc.Layers, layerDigests(tc.want))
		}
	}
}
