package store

import (
	"os"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// The cache commands on an open cache: ls sizes an image by its cached
// blobs, verify finds and removes a damaged blob with the manifest that
// names it, prune and clear empty it, and the figures follow.
func TestCacheCommandsOnDisk(t *testing.T) {
	var st Stats
	c := openCache(t, t.TempDir(), Options{Stats: &st})
	a := putImage(t, c, pattern(20_000, 1))
	b := putImage(t, c, pattern(30_000, 2))
	for tag, img := range map[string]image{"a": a, "b": b} {
		if err := c.RecordTag("docker.io", "library/"+tag, "1", Manifest{MediaType: v1.MediaTypeImageManifest, Digest: img.digest}); err != nil {
			t.Fatal(err)
		}
	}
	imgs, err := c.Images()
	if err != nil || len(imgs) != 2 || imgs[0].Repo != "library/a" || !imgs[0].Complete {
		t.Fatalf("Images: %+v, %v", imgs, err)
	}
	cfgSize, _ := os.Stat(c.blobPath(a.config))
	if want := int64(len(a.data)) + 20_000 + cfgSize.Size(); imgs[0].Size != want {
		t.Errorf("a's size %d, want %d", imgs[0].Size, want)
	}

	raw, _ := os.ReadFile(c.blobPath(a.layer))
	raw[7] ^= 1
	if err := os.WriteFile(c.blobPath(a.layer), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var calls int
	bad, err := c.Verify(func(done, total int) { calls++ })
	if err != nil || len(bad) != 1 || bad[0] != a.layer || calls != 4 {
		t.Fatalf("Verify: %v %v, %d progress calls (want 4)", bad, err, calls)
	}
	if exists(c.blobPath(a.layer)) || exists(c.manifestPath(a.digest)) || !exists(c.manifestPath(b.digest)) {
		t.Errorf("after Verify: layer %v, a's manifest %v, b's manifest %v; want false, false, true",
			exists(c.blobPath(a.layer)), exists(c.manifestPath(a.digest)), exists(c.manifestPath(b.digest)))
	}
	if st.CacheBytes.Load() != c.size() {
		t.Errorf("CacheBytes %d after Verify, %d on disk", st.CacheBytes.Load(), c.size())
	}
	if imgs, _ := c.Images(); len(imgs) != 2 || imgs[0].Complete {
		t.Errorf("after Verify, a still looks complete: %+v", imgs)
	}

	n, freed, err := c.Prune(0)
	if err != nil || n != 3 || freed < 30_000 || c.Size() != 0 {
		t.Errorf("Prune(0): %d blobs, %d bytes, %v; %d left", n, freed, err, c.Size())
	}
	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := c.Images(); len(imgs) != 0 || st.CacheBytes.Load() != 0 {
		t.Errorf("after Clear: %+v, %d bytes", imgs, st.CacheBytes.Load())
	}
}
