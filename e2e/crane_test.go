package e2e

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// crane runs crane with an empty Docker config, so it pulls anonymously.
type crane struct {
	bin string
	env []string
}

func newCrane(tb testing.TB) *crane {
	tb.Helper()
	return &crane{bin: toolCrane.path(tb), env: isolatedEnv(tb)}
}

func (c *crane) run(tb testing.TB, args ...string) []byte {
	tb.Helper()
	return runTool(tb, c.env, c.bin, append([]string{"--insecure"}, args...)...)
}

// pull runs crane pull in the given format ("tarball" or "oci") and returns
// the path it wrote.
func (c *crane) pull(tb testing.TB, ref, format string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "out")
	if format == "tarball" {
		out += ".tar"
	}
	c.run(tb, "pull", "--format", format, ref, out)
	return out
}

// TestCranePull pulls each kind of image through the mirror as a tarball
// and as an OCI layout and compares digests with the fake hub's.
func TestCranePull(t *testing.T) {
	cr := newCrane(t)
	im := newImages(t)
	m := startMirror(t, im.hub.URL())

	for _, c := range im.cases() {
		for _, format := range []string{"tarball", "oci"} {
			t.Run(c.name+" "+format, func(t *testing.T) {
				out := cr.pull(t, m.Addr+"/"+c.ref, format)
				var layers, want []string
				switch format {
				case "tarball":
					// A tarball holds the linux/amd64 image.
					tc := readTarball(t, out)
					if !slices.Equal(tc.Configs, []string{c.platform.Config.Digest}) {
						t.Errorf("tarball configs = %v, want [%s]", tc.Configs, c.platform.Config.Digest)
					}
					layers, want = tc.Layers, layerDigests(c.platform)
				case "oci":
					// An OCI layout holds what the reference names, unchanged
					// (crane stores manifests as they are), with every platform.
					lc := readLayout(t, out)
					if len(lc.Top) != 1 || lc.Top[0].Digest != c.top.Digest {
						t.Errorf("index.json manifests = %+v, want one with digest %s", lc.Top, c.top.Digest)
					}
					layers, want = lc.Layers, layerDigests(c.all...)
				}
				if !sameSet(layers, want) {
					t.Errorf("layers = %v, want %v", layers, want)
				}
			})
		}
	}
}

// TestCraneDigestManifest checks crane digest (a HEAD request) and crane
// manifest (a GET) by tag and by digest.
func TestCraneDigestManifest(t *testing.T) {
	cr := newCrane(t)
	im := newImages(t)
	m := startMirror(t, im.hub.URL())

	for _, c := range im.cases() {
		if c.tag == "" || c.repo != c.top.Repo {
			continue // by tag, under the full name: the by-digest name is made here
		}
		t.Run(c.name, func(t *testing.T) {
			byTag := m.Addr + "/" + c.ref
			byDigest := m.Addr + "/" + c.repo + "@" + c.top.Digest
			if got := strings.TrimSpace(string(cr.run(t, "digest", byTag))); got != c.top.Digest {
				t.Errorf("crane digest %s = %s, want %s", byTag, got, c.top.Digest)
			}
			for _, ref := range []string{byTag, byDigest} {
				if got := cr.run(t, "manifest", ref); !bytes.Equal(got, c.top.Manifest) {
					t.Errorf("crane manifest %s differs from upstream:\n got %s\nwant %s", ref, got, c.top.Manifest)
				}
			}
		})
	}
}

// TestCraneLs lists tags through the mirror.
func TestCraneLs(t *testing.T) {
	cr := newCrane(t)
	im := newImages(t)
	m := startMirror(t, im.hub.URL())

	tests := []struct {
		repo string
		want []string
	}{
		{"library/alpine", []string{"3.20"}},
		{"alpine", []string{"3.20"}},
		{"library/multi", []string{"amd64", "arm64", "latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.repo, func(t *testing.T) {
			got := strings.Fields(string(cr.run(t, "ls", m.Addr+"/"+tt.repo)))
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("crane ls %s = %v, want %v", tt.repo, got, tt.want)
			}
		})
	}
}
