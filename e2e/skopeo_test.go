package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// skopeo runs skopeo with its own policy, registries configuration and
// temporary directories, so it works as root on a machine with no
// /etc/containers and never reads the user's credentials.
type skopeo struct {
	bin    string
	global []string
	env    []string
}

func newSkopeo(tb testing.TB) *skopeo {
	tb.Helper()
	bin := toolSkopeo.path(tb)
	dir := tb.TempDir()
	policy := filepath.Join(dir, "policy.json")
	regConf := filepath.Join(dir, "registries.conf")
	regD := filepath.Join(dir, "registries.d")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{regD, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string]string{
		policy:  `{"default":[{"type":"insecureAcceptAnything"}]}` + "\n",
		regConf: "unqualified-search-registries = []\n",
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return &skopeo{
		bin: bin,
		global: []string{
			"--policy", policy,
			"--registries.d", regD,
			"--tmpdir", tmp,
			"--override-os", "linux",
			"--override-arch", "amd64",
		},
		env: isolatedEnv(tb, "CONTAINERS_REGISTRIES_CONF="+regConf),
	}
}

func (s *skopeo) run(tb testing.TB, args ...string) []byte {
	tb.Helper()
	return runTool(tb, s.env, s.bin, append(slices.Clone(s.global), args...)...)
}

// copyToLayout copies docker://ref to a new OCI layout and returns its
// directory.
func (s *skopeo) copyToLayout(tb testing.TB, ref string, all bool) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "layout")
	args := []string{"copy", "--quiet", "--src-tls-verify=false", "--src-no-creds"}
	if all {
		args = append(args, "--all")
	}
	s.run(tb, append(args, "docker://"+ref, "oci:"+dir)...)
	return dir
}

// TestSkopeoCopy copies each kind of image through the mirror into an OCI
// layout and checks the layout against what the fake hub serves.
func TestSkopeoCopy(t *testing.T) {
	sk := newSkopeo(t)
	im := newImages(t)
	m := startMirror(t, im.hub.URL())

	tests := []struct {
		name string
		ref  string
		all  bool
		// wantTop is the digest index.json must point at, or "" when
		// skopeo converts the manifest (Docker types into an OCI layout).
		wantTop    string
		wantLayers []string
	}{
		{name: "schema2", ref: "library/alpine:3.20", wantLayers: layerDigests(im.Schema2)},
		{name: "schema2 short name", ref: "alpine:3.20", wantLayers: layerDigests(im.Schema2)},
		{name: "oci", ref: "library/busybox:1.36", wantTop: im.OCI.Digest, wantLayers: layerDigests(im.OCI)},
		{name: "oci by digest", ref: "library/busybox@" + im.OCI.Digest, wantTop: im.OCI.Digest, wantLayers: layerDigests(im.OCI)},
		{name: "oci index default platform", ref: "library/multi:latest", wantTop: im.Amd64.Digest, wantLayers: layerDigests(im.Amd64)},
		{name: "oci index all", ref: "library/multi:latest", all: true, wantTop: im.Index.Digest, wantLayers: layerDigests(im.Amd64, im.Arm64)},
		{name: "docker list default platform", ref: "library/dlist:latest", wantLayers: layerDigests(im.ListAmd64)},
		{name: "docker list all", ref: "library/dlist:latest", all: true, wantLayers: layerDigests(im.ListAmd64, im.ListArm64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := sk.copyToLayout(t, m.Addr+"/"+tt.ref, tt.all)
			lc := readLayout(t, dir)
			if len(lc.Top) != 1 {
				t.Fatalf("index.json has %d manifests, want 1", len(lc.Top))
			}
			if tt.wantTop != "" && lc.Top[0].Digest != tt.wantTop {
				t.Errorf("index.json points at %s, want %s", lc.Top[0].Digest, tt.wantTop)
			}
			if !sameSet(lc.Layers, tt.wantLayers) {
				t.Errorf("layout layers = %v, want %v", lc.Layers, tt.wantLayers)
			}
		})
	}
}

// TestSkopeoInspect checks the raw manifests and the summary skopeo
// inspect reads through the mirror.
func TestSkopeoInspect(t *testing.T) {
	sk := newSkopeo(t)
	im := newImages(t)
	m := startMirror(t, im.hub.URL())

	tests := []struct {
		name     string
		repo     string
		tag      string
		manifest []byte
		digest   string
		// layers are those of the image skopeo picks for linux/amd64.
		layers []string
	}{
		{"schema2", "library/alpine", "3.20", im.Schema2.Manifest, im.Schema2.Digest, layerDigests(im.Schema2)},
		{"oci", "library/busybox", "1.36", im.OCI.Manifest, im.OCI.Digest, layerDigests(im.OCI)},
		{"oci index", "library/multi", "latest", im.Index.Manifest, im.Index.Digest, layerDigests(im.Amd64)},
		{"docker list", "library/dlist", "latest", im.List.Manifest, im.List.Digest, layerDigests(im.ListAmd64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "docker://" + m.Addr + "/" + tt.repo + ":" + tt.tag
			raw := sk.run(t, "inspect", "--raw", "--tls-verify=false", "--no-creds", ref)
			if !bytes.Equal(raw, tt.manifest) {
				t.Errorf("raw manifest differs from upstream:\n got %s\nwant %s", raw, tt.manifest)
			}
			out := sk.run(t, "inspect", "--tls-verify=false", "--no-creds", ref)
			var info struct {
				Digest   string
				RepoTags []string
				Layers   []string
			}
			if err := json.Unmarshal(out, &info); err != nil {
				t.Fatalf("skopeo inspect output: %v\n%s", err, out)
			}
			if info.Digest != tt.digest {
				t.Errorf("Digest = %s, want %s", info.Digest, tt.digest)
			}
			if !slices.Equal(info.Layers, tt.layers) {
				t.Errorf("Layers = %v, want %v", info.Layers, tt.layers)
			}
			if !slices.Contains(info.RepoTags, tt.tag) {
				t.Errorf("RepoTags = %v, want it to include %q", info.RepoTags, tt.tag)
			}
		})
	}
}
