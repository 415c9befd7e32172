package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/store"
)

func blobFile(tm *testMirror, d string) string {
	return filepath.Join(tm.dir, "blobs", "sha256", d[7:9], d[7:])
}

// pullSettled pulls and waits until the downloads are in the cache (a
// client has its bytes before the verified file is renamed into place).
func (tm *testMirror) pullSettled(t *testing.T, name string, img fakehub.Image) {
	t.Helper()
	tm.pull(t, name, img)
	tm.blobs.Wait()
}

func cached(tm *testMirror, d string) bool {
	_, err := os.Stat(blobFile(tm, d))
	return err == nil
}

// Under cache_max the least recently used blobs go first, with the
// manifests that name them, and a pull of an evicted image works again.
func TestEvictionLeastRecentlyUsed(t *testing.T) {
	hub := newHub(t)
	imgs := map[string]fakehub.Image{}
	for i, name := range []string{"a", "b", "c", "d"} {
		imgs[name] = hub.AddImage("library/"+name, "1", pattern(100_000+i))
	}
	tm := startMirrorCfg(t, hub, func(c *Config) { c.CacheMax = 350_000 })
	tm.pullSettled(t, "a", imgs["a"])
	tm.pullSettled(t, "b", imgs["b"])
	tm.pullSettled(t, "c", imgs["c"])
	tm.pullSettled(t, "a", imgs["a"]) // a is now more recent than b
	tm.pullSettled(t, "d", imgs["d"]) // over the limit: b goes

	for name, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := cached(tm, imgs[name].Layers[0].Digest); got != want {
			t.Errorf("layer of %s cached: %v, want %v", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(tm.dir, "manifests", "sha256", imgs["b"].Digest[7:9], imgs["b"].Digest[7:])); err == nil {
		t.Errorf("b's manifest stayed although its layer was evicted")
	}
	if n := tm.cache().Size(); n > 350_000 {
		t.Errorf("%d bytes of blobs kept, limit 350000", n)
	}
	before := hub.Counters().BlobGetsByDigest[imgs["b"].Layers[0].Digest]
	tm.pullSettled(t, "b", imgs["b"])
	if hub.Counters().BlobGetsByDigest[imgs["b"].Layers[0].Digest] != before+1 {
		t.Errorf("the evicted layer was not fetched again")
	}
	if !bytes.Contains([]byte(tm.logs.String()), []byte("evicted least recently used blobs")) {
		t.Errorf("the log does not say what was evicted")
	}
}

// A blob a client is reading is never evicted, however old. The blob is
// larger than the socket buffers, so the server is still sending it.
func TestEvictionSkipsBlobsInUse(t *testing.T) {
	hub := newHub(t)
	const big = 24 << 20
	old := hub.AddImage("library/old", "1", pattern(big))
	tm := startMirrorCfg(t, hub, func(c *Config) { c.CacheMax = big + 100_000 })
	tm.pullSettled(t, "old", old)
	d := old.Layers[0].Digest

	resp, err := http.Get(tm.base + "/v2/library/old/blobs/" + d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // each would push the old layer out
		img := hub.AddImage(fmt.Sprintf("library/new%d", i), "1", pattern(120_000+i))
		tm.pullSettled(t, fmt.Sprintf("new%d", i), img)
		if !cached(tm, d) {
			t.Fatalf("a blob being read was evicted")
		}
	}
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || 1000+len(rest) != big {
		t.Fatalf("the reader got %d bytes, %v", 1000+len(rest), err)
	}
	img := hub.AddImage("library/last", "1", pattern(130_000))
	tm.pullSettled(t, "last", img)
	if cached(tm, d) {
		t.Errorf("the old layer stayed after its reader left")
	}
}

// Many clients pulling many images under a small limit: the limit holds,
// every kept blob is whole, and no kept manifest names a missing blob.
func TestEvictionUnderConcurrentPulls(t *testing.T) {
	hub := newHub(t)
	var imgs []fakehub.Image
	for i := range 12 {
		imgs = append(imgs, hub.AddImage(fmt.Sprintf("library/img%d", i), "1", pattern(60_000+i*10)))
	}
	tm := startMirrorCfg(t, hub, func(c *Config) { c.CacheMax = 300_000 })
	var wg sync.WaitGroup
	for round := range 3 {
		for i, img := range imgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tm.pull(t, fmt.Sprintf("img%d", (i+round)%len(imgs)), imgs[(i+round)%len(imgs)])
			}()
			_ = img
		}
	}
	wg.Wait()
	tm.blobs.Wait() // clients have their bytes before the last commits
	if n := tm.cache().Size(); n > 300_000 {
		t.Errorf("%d bytes kept, limit 300000", n)
	}
	kept := 0
	_ = filepath.Walk(filepath.Join(tm.dir, "blobs"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		kept++
		raw, _ := os.ReadFile(p)
		if fmt.Sprintf("%x", sha256.Sum256(raw)) != filepath.Base(p) {
			t.Errorf("kept blob %s is not whole", filepath.Base(p))
		}
		return nil
	})
	if kept == 0 {
		t.Fatal("nothing kept: the test checks nothing")
	}
	_ = filepath.Walk(filepath.Join(tm.dir, "manifests"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		for _, img := range imgs {
			if filepath.Base(p) == img.Digest[7:] && (!cached(tm, img.Layers[0].Digest) || !cached(tm, img.Config.Digest)) {
				t.Errorf("manifest of %s kept without its blobs", img.Repo)
			}
		}
		return nil
	})
}

// A blob larger than the whole limit is served whole but not kept.
func TestOversizeBlobIsServedNotKept(t *testing.T) {
	hub := newHub(t)
	layer := pattern(100_000)
	img := hub.AddImage("library/huge", "1", layer)
	tm := startMirrorCfg(t, hub, func(c *Config) { c.CacheMax = 50_000 })
	for range 2 {
		r := tm.get(t, "/v2/library/huge/blobs/"+img.Layers[0].Digest)
		if r.status != http.StatusOK || !bytes.Equal(r.body, layer) {
			t.Fatalf("got %d, %d bytes", r.status, len(r.body))
		}
		tm.blobs.Wait()
	}
	if cached(tm, img.Layers[0].Digest) {
		t.Errorf("a blob over cache_max was kept")
	}
	if n := hub.Counters().BlobGetsByDigest[img.Layers[0].Digest]; n != 2 {
		t.Errorf("%d upstream GETs, want 2 (it is not kept)", n)
	}
}

// The index is rebuilt from the files at start, with their sizes.
func TestIndexRebuiltAtStart(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/a", "1", pattern(10_000))
	dir := t.TempDir()
	tm := startMirrorIn(t, hub, dir)
	tm.pullSettled(t, "a", img)
	if err := tm.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if bytes, blobs := c.Usage(); bytes != img.Layers[0].Size+img.Config.Size || blobs != 2 {
		t.Errorf("rebuilt index: %d bytes in %d blobs", bytes, blobs)
	}
}

func (tm *testMirror) cache() *store.Cache {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.Mirror.cache
}
