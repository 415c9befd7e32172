package store

import (
	"os"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// Eviction finds the manifests that name an evicted blob in memory: a
// manifest file changed behind the cache's back is not read again, so an
// eviction does not cost a read of every cached manifest.
func TestEvictionDoesNotReadManifests(t *testing.T) {
	c := openCache(t, t.TempDir(), Options{})
	a := putImage(t, c, pattern(3000, 1))
	b := putImage(t, c, pattern(3001, 2))

	// b's file now claims a's layer; only a re-read would see it.
	fake := manifestBytes(oci.MediaTypeDockerManifest, []byte(`{"layers":[{"digest":"`+a.layer.String()+`"}]}`))
	if err := os.WriteFile(c.manifestPath(b.digest), fake, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.removeBlobs([]digest.Digest{a.layer}); err != nil {
		t.Fatal(err)
	}
	if exists(c.manifestPath(a.digest)) {
		t.Errorf("a's manifest stayed although its layer went")
	}
	if !exists(c.manifestPath(b.digest)) {
		t.Errorf("b's manifest went: eviction re-read it from disk")
	}
	if exists(c.blobPath(a.layer)) || !exists(c.blobPath(a.config)) {
		t.Errorf("evicting a's layer: layer kept %v, config kept %v; want false, true", exists(c.blobPath(a.layer)), exists(c.blobPath(a.config)))
	}
}

// The reverse index is built by the walk when the cache is opened: after
// a restart, evicting a platform's layer removes the platform manifest
// and the manifest list that names it, and nothing else.
func TestEvictionIndexAfterRestart(t *testing.T) {
	dir := t.TempDir()
	first := openCache(t, dir, Options{})
	amd := putImage(t, first, pattern(4000, 1))
	arm := putImage(t, first, pattern(4001, 2))
	idx := putIndex(t, first, map[string]image{"amd64": amd, "arm64": arm})
	other := putImage(t, first, pattern(4002, 3))
	first.Close()

	c := openCache(t, dir, Options{})
	if n := c.refs.len(); n != 4 {
		t.Fatalf("%d manifests in the reverse index after the restart, want 4", n)
	}
	freed, err := c.removeBlobs([]digest.Digest{amd.layer})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		img  image
		want bool
	}{{"index", idx, false}, {"amd64", amd, false}, {"arm64", arm, true}, {"other", other, true}} {
		if got := exists(c.manifestPath(m.img.digest)); got != m.want {
			t.Errorf("manifest %s kept: %v, want %v", m.name, got, m.want)
		}
	}
	want := int64(4000 + len(manifestBytes(oci.MediaTypeDockerManifestList, idx.data)) + len(manifestBytes(oci.MediaTypeDockerManifest, amd.data)))
	if freed != want {
		t.Errorf("freed %d bytes, want %d (the layer and two manifest files)", freed, want)
	}
	// A second eviction of the same blob finds nothing left to remove.
	if _, err := c.removeBlobs([]digest.Digest{amd.layer}); err != nil {
		t.Errorf("second eviction: %v", err)
	}
	if n := c.refs.len(); n != 2 {
		t.Errorf("%d manifests in the reverse index, want 2 (arm64 and other)", n)
	}
}

// Under the size limit the least recently used blob goes first, never one
// in use or pinned, and the manifests naming it go with it.
func TestEvictionOrder(t *testing.T) {
	c := openCache(t, t.TempDir(), Options{Max: 10_000})
	old := putBlob(t, c, pattern(4000, 1))
	inUse := putBlob(t, c, pattern(4000, 2))
	pinned := putBlob(t, c, pattern(1000, 3))
	c.SetPinned([]digest.Digest{pinned})
	c.index.acquire(inUse)
	gone := c.index.add(digest.FromString("new"), 4000) // 13,000 bytes: 3,000 over
	if len(gone) != 1 || gone[0] != old {
		t.Errorf("evicted %v, want only the oldest blob %s", gone, old)
	}
	c.index.release(inUse)
	if gone := c.index.over(0); len(gone) != 2 || gone[0] != inUse {
		t.Errorf("down to 0: evicted %v, want the released blob first, then the new one, never the pinned", gone)
	}
	if bytes, blobs := c.Usage(); bytes != 1000 || blobs != 1 {
		t.Errorf("left %d bytes in %d blobs, want the pinned one", bytes, blobs)
	}
}
