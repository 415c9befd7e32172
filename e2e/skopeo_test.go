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

	type copyCase struct {
		imageCase
		every bool // skopeo copy --all: every platform of an index
	}
	var tests []copyCase
	for _, c := range im.cases() {
		if c.name == "oci index child" {
			continue // a plain OCI image by tag, as "oci" already is
		}
		tests = append(tests, copyCase{imageCase: c})
		if c.isIndex() {
			tests = append(tests, copyCase{imageCase: c, every: true})
		}
	}
	for _, tt := range tests {
		name := tt.name
		if tt.every {
			name += " all"
		}
		t.Run(name, func(t *testing.T) {
			dir := sk.copyToLayout(t, m.Addr+"/"+tt.ref, tt.every)
			lc := readLayout(t, dir)
			if len(lc.Top) != 1 {
				t.Fatalf("index.json has %d manifests, want 1", len(lc.Top))
			}
			// Without --all skopeo copies the linux/amd64 image; with it,
			// what the reference names. Docker types it converts to OCI, so
			// only OCI manifests keep upstream's digest.
			want, wantLayers := tt.platform, layerDigests(tt.platform)
			if tt.every {
				want, wantLayers = tt.top, layerDigests(tt.all...)
			}
			if !tt.docker && lc.Top[0].Digest != want.Digest {
				t.Errorf("index.json points at %s, want %s", lc.Top[0].Digest, want.Digest)
			}
			if !sameSet(lc.Layers, wantLayers) {
				t.Errorf("layout layers = %v, want %v", lc.Layers, wantLayers)
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

	for _, tt := range im.cases() {
		if tt.tag == "" || tt.repo != tt.top.Repo || tt.name == "oci index child" {
			continue // by tag, under the full name, one case a kind
		}
		t.Run(tt.name, func(t *testing.T) {
			ref := "docker://" + m.Addr + "/" + tt.repo + ":" + tt.tag
			raw := sk.run(t, "inspect", "--raw", "--tls-verify=false", "--no-creds", ref)
			if !bytes.Equal(raw, tt.top.Manifest) {
				t.Errorf("raw manifest differs from upstream:\n got %s\nwant %s", raw, tt.top.Manifest)
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
			if info.Digest != tt.top.Digest {
				t.Errorf("Digest = %s, want %s", info.Digest, tt.top.Digest)
			}
			// The layers are those of the image skopeo picks for linux/amd64.
			if layers := layerDigests(tt.platform); !slices.Equal(info.Layers, layers) {
				t.Errorf("Layers = %v, want %v", info.Layers, layers)
			}
			if !slices.Contains(info.RepoTags, tt.tag) {
				t.Errorf("RepoTags = %v, want it to include %q", info.RepoTags, tt.tag)
			}
		})
	}
}
