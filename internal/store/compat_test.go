package store

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

// testdata/cache-v0 is a cache directory written by hubmirror before the
// store was its own package (commit ac77305): a mirror in front of the
// fake hub pulled alpine:3.20, owner/app:V1.2 (an uppercase tag), an OCI
// image, and of the multi-platform library/multi:latest its list and
// only the amd64 platform.

// copyDir copies the tree at src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A cache written by the earlier version is read as it is: its tags list
// with the same digests and sizes, its manifests and blobs verify, and
// its reverse index is whole.
func TestReadsCacheOfEarlierVersion(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("testdata", "cache-v0"), dir)
	var st Stats
	c := openCache(t, dir, Options{Stats: &st})

	imgs, err := c.Images()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		repo, tag string
		digest    digest.Digest
		complete  bool
	}{
		{"library/alpine", "3.20", "sha256:9ee40819405fa540b731e39ff065adb41855d786ce7a776a8104a5999fe27353", true},
		{"library/multi", "latest", "sha256:610a619cb3bd307a61c04cf82520321f94c4aa6bf8a7928fb77d86317dd7fb39", false},
		{"library/oci", "1", "sha256:bee02aadd574ea0a721861201eee6b12bd25cca05093f2f0feeb76daef96a476", true},
		{"owner/app", "V1.2", "sha256:9b7e2980a9e028cc6a12eadc18cf9defba7cea5f2654393eee746c1244edeb16", true},
	}
	if len(imgs) != len(want) {
		t.Fatalf("Images: %+v", imgs)
	}
	for i, w := range want {
		im := imgs[i]
		if im.Registry != "docker.io" || im.Repo != w.repo || im.Tag != w.tag || im.Digest != w.digest.String() || im.Complete != w.complete || im.Size <= 0 {
			t.Errorf("image %d: %+v, want %s:%s %s complete %v", i, im, w.repo, w.tag, w.digest, w.complete)
		}
		if _, err := c.GetManifest(w.digest); err != nil {
			t.Errorf("manifest of %s:%s: %v", w.repo, w.tag, err)
		}
		// Serving the tag offline finds its record by its name.
		if rec, err := c.ReadTag("docker.io", w.repo, w.tag); err != nil || len(rec.Entries) != 1 || rec.Entries[0].Digest != w.digest {
			t.Errorf("tag record of %s:%s: %+v, %v", w.repo, w.tag, rec, err)
		}
	}
	if bytes, blobs := c.Usage(); blobs != 8 || bytes <= 0 {
		t.Errorf("usage: %d bytes in %d blobs, want 8 blobs", bytes, blobs)
	}
	if n := c.refs.len(); n != 5 {
		t.Errorf("%d manifests in the reverse index, want 5", n)
	}
	if st.CacheBytes.Load() != c.size() || st.CacheBytes.Load() == 0 {
		t.Errorf("CacheBytes %d, %d on disk", st.CacheBytes.Load(), c.size())
	}
	bad, err := c.Verify(nil)
	if err != nil || len(bad) != 0 {
		t.Errorf("Verify: %v, %v", bad, err)
	}
}
