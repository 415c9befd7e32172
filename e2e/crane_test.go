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

	tests := []struct {
		name   string
		ref    string
		format string
		// wantTop is the digest an OCI layout's index.json points at; crane
		// stores manifests unchanged.
		wantTop string
		// wantConfig is the config a tarball holds.
		wantConfig string
		wantLayers []string
	}{
		{name: "schema2 tarball", ref: "library/alpine:3.20", format: "tarball", wantConfig: im.Schema2.Config.Digest, wantLayers: layerDigests(im.Schema2)},
		{name: "schema2 short name tarball", ref: "alpine:3.20", format: "tarball", wantConfig: im.Schema2.Config.Digest, wantLayers: layerDigests(im.Schema2)},
		{name: "oci tarball", ref: "library/busybox:1.36", format: "tarball", wantConfig: im.OCI.Config.Digest, wantLayers: layerDigests(im.OCI)},
		{name: "oci index tarball", ref: "library/multi:latest", format: "tarball", wantConfig: im.Amd64.Config.Digest, wantLayers: layerDigests(im.Amd64)},
		{name: "schema2 layout", ref: "library/alpine:3.20", format: "oci", wantTop: im.Schema2.Digest, wantLayers: layerDigests(im.Schema2)},
		{name: "oci layout", ref: "library/busybox:1.36", format: "oci", wantTop: im.OCI.Digest, wantLayers: layerDigests(im.OCI)},
		{name: "oci by digest layout", ref: "library/busybox@" + im.OCI.Digest, format: "oci", wantTop: im.OCI.Digest, wantLayers: layerDigests(im.OCI)},
		{name: "oci index layout", ref: "library/multi:latest", format: "oci", wantTop: im.Index.Digest, wantLayers: layerDigests(im.Amd64, im.Arm64)},
		{name: "docker list layout", ref: "library/dlist:latest", format: "oci", wantTop: im.List.Digest, wantLayers: layerDigests(im.ListAmd64, im.ListArm64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := cr.pull(t, m.Addr+"/"+tt.ref, tt.format)
			var layers []string
			switch tt.format {
			case "tarball":
				tc := readTarball(t, out)
				if !slices.Equal(tc.Configs, []string{tt.wantConfig}) {
					t.Errorf("tarball configs = %v, want [%s]", tc.Configs, tt.wantConfig)
				}
				layers = tc.Layers
			case "oci":
				lc := readLayout(t, out)
				if len(lc.Top) != 1 || lc.Top[0].Digest != tt.wantTop {
					t.Errorf("index.json manifests = %+v, want one with digest %s", lc.Top, tt.wantTop)
				}
				layers = lc.Layers
			}
			if !sameSet(layers, tt.wantLayers) {
				t.Errorf("layers = %v, want %v", layers, tt.wantLayers)
			}
		})
	}
}

// TestCraneDigestManifest checks crane digest (a HEAD request) and crane
// manifest (a GET) by tag and by digest.
func TestCraneDigestManifest(t *testing.T) {
	cr := newCrane(t)
	im := newImages(t)
	m := startMirror(t, im.hub.URL())

	tests := []struct {
		name     string
		repo     string
		tag      string
		manifest []byte
		digest   string
	}{
		{"schema2", "library/alpine", "3.20", im.Schema2.Manifest, im.Schema2.Digest},
		{"oci", "library/busybox", "1.36", im.OCI.Manifest, im.OCI.Digest},
		{"oci index", "library/multi", "latest", im.Index.Manifest, im.Index.Digest},
		{"oci index child", "library/multi", "arm64", im.Arm64.Manifest, im.Arm64.Digest},
		{"docker list", "library/dlist", "latest", im.List.Manifest, im.List.Digest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byTag := m.Addr + "/" + tt.repo + ":" + tt.tag
			byDigest := m.Addr + "/" + tt.repo + "@" + tt.digest
			if got := strings.TrimSpace(string(cr.run(t, "digest", byTag))); got != tt.digest {
				t.Errorf("crane digest %s = %s, want %s", byTag, got, tt.digest)
			}
			for _, ref := range []string{byTag, byDigest} {
				if got := cr.run(t, "manifest", ref); !bytes.Equal(got, tt.manifest) {
					t.Errorf("crane manifest %s differs from upstream:\n got %s\nwant %s", ref, got, tt.manifest)
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
