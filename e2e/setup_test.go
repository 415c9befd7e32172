package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSkopeoPullsTheMirrorByItsOwnAddress: with the registries.conf that
// `hubmirror setup podman` writes, a name that includes the mirror's own
// address pulls over plain HTTP with no --src-tls-verify=false, as
// `podman pull 127.0.0.1:5000/library/alpine` does (skopeo and podman
// share containers/image).
func TestSkopeoPullsTheMirrorByItsOwnAddress(t *testing.T) {
	s := newSkopeo(t)
	m, onHub, _, ghcrURL := twoHubs(t)
	conf, code := hubmirror(t, isolatedEnv(t), "", "setup", "podman", "--host", m.Addr,
		"--config", m.ConfigPath, "--upstream", "ghcr.io="+ghcrURL)
	if code != 0 {
		t.Fatalf("hubmirror setup podman: exit %d: %s", code, conf)
	}
	regConf := filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(regConf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	// skopeo 1.9 reads registries.conf from --registries-conf, not from
	// CONTAINERS_REGISTRIES_CONF.
	args := append(slices.Clone(s.global), "--registries-conf", regConf, "copy", "--quiet", "--src-no-creds",
		"docker://"+m.Addr+"/owner/app:1", "oci:"+dir)
	runTool(t, s.env, s.bin, args...)
	if lc := readLayout(t, dir); !sameSet(lc.Layers, layerDigests(onHub)) {
		t.Errorf("layers %v, want Docker Hub's %v", lc.Layers, layerDigests(onHub))
	}
}
