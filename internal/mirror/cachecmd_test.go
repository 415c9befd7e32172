package mirror

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/store"
)

// The cache commands on a directory a mirror filled: ls, verify finding a
// flipped byte, prune, clear; and the lock keeps them off a running mirror.
func TestCacheCommands(t *testing.T) {
	hub := newHub(t)
	a := hub.AddImage("library/alpine", "3.20", pattern(50_000))
	b := hub.AddImage("owner/app", "V1", pattern(70_000)) // an uppercase tag
	dir := t.TempDir()
	tm := startMirrorIn(t, hub, dir)
	tm.pullSettled(t, "alpine", a)
	tm.pullSettled(t, "owner/app", b)

	if _, err := store.Open(dir, store.Options{}); err == nil || !strings.Contains(err.Error(), "in use by another hubmirror") {
		t.Fatalf("opening the cache of a running mirror: %v", err)
	}
	if err := tm.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	imgs, err := c.Images()
	if err != nil || len(imgs) != 2 {
		t.Fatalf("Images: %+v %v", imgs, err)
	}
	if imgs[0].Repo != "library/alpine" || imgs[0].Tag != "3.20" || !imgs[0].Complete ||
		imgs[0].Size != a.Layers[0].Size+a.Config.Size+int64(len(a.Manifest)) {
		t.Errorf("alpine: %+v", imgs[0])
	}
	if imgs[1].Repo != "owner/app" || imgs[1].Tag != "V1" {
		t.Errorf("owner/app: %+v", imgs[1])
	}

	// Flip one byte of alpine's layer.
	path := blobFile(tm, a.Layers[0].Digest)
	raw, _ := os.ReadFile(path)
	raw[100] ^= 1
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var calls int
	bad, err := c.Verify(func(done, total int) { calls++ })
	if err != nil || len(bad) != 1 || bad[0].String() != a.Layers[0].Digest || calls != 4 {
		t.Fatalf("Verify: %v %v (%d progress calls, want 4)", bad, err, calls)
	}
	if cached(tm, a.Layers[0].Digest) {
		t.Errorf("the corrupt blob is still there")
	}
	if imgs, _ := c.Images(); imgs[0].Complete {
		t.Errorf("alpine still looks complete: %+v", imgs[0])
	}

	n, freed, err := c.Prune(0)
	if err != nil || n != 3 || freed < b.Layers[0].Size {
		t.Errorf("Prune(0): %d blobs, %d bytes, %v", n, freed, err)
	}
	if c.Size() != 0 {
		t.Errorf("%d bytes left after pruning to 0", c.Size())
	}
	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := c.Images(); len(imgs) != 0 {
		t.Errorf("after Clear: %+v", imgs)
	}
}

// The running mirror's cache operations, for the desktop app.
func TestRunningMirrorCacheOperations(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "3.20", pattern(40_000))
	tm := startMirrorCfg(t, hub, func(c *Config) { c.CacheMax = 1 << 20 })
	var last int64
	if err := tm.Prefetch(context.Background(), "alpine:3.20", func(done, total int64) { last = total }); err != nil {
		t.Fatal(err)
	}
	tm.blobs.Wait()
	if u := tm.CacheUsage(); u.Blobs != 2 || u.Limit != 1<<20 || u.Bytes != img.Layers[0].Size+img.Config.Size || last != u.Bytes {
		t.Errorf("after prefetch: %+v (progress total %d)", u, last)
	}
	raw, _ := os.ReadFile(blobFile(tm, img.Layers[0].Digest))
	raw[0] ^= 1
	_ = os.WriteFile(blobFile(tm, img.Layers[0].Digest), raw, 0o600)
	bad, err := tm.VerifyCache(nil)
	if err != nil || len(bad) != 1 || tm.CacheUsage().Blobs != 1 {
		t.Errorf("VerifyCache: %v %v, %+v", bad, err, tm.CacheUsage())
	}
	if err := tm.ClearCache(); err != nil || tm.CacheUsage().Bytes != 0 || tm.Status().CacheBytes != 0 {
		t.Errorf("ClearCache: %v %+v", err, tm.CacheUsage())
	}
	tm.pull(t, "alpine", img) // still works after a clear
}
