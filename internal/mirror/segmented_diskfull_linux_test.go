package mirror

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// When the disk fills up under a segmented download, its chunks, which
// all find it full at about the same time, make room once: the least
// recently used blob is evicted, no chunk gives up for want of more to
// evict, and the new blob is committed exactly as hashed.
func TestSegmentedDiskFullEvictsOnce(t *testing.T) {
	disk := mountTmpfs(t, "48m")
	hub := newHub(t)
	old := hub.AddImage("library/old", "1", pattern(20<<20))
	var fresh fakehub.Image
	{
		b := pattern(segSize)
		for i := range b {
			b[i] ^= 0x5a
		}
		fresh = hub.AddImage("library/fresh", "1", b)
	}
	tm := startMirrorCfg(t, hub, func(c *Config) {
		c.CacheDir, c.CacheMax = filepath.Join(disk, "cache"), 1<<30
		c.DownloadConnections, c.DownloadChunk = 4, segChunk
	})
	tm.dir = filepath.Join(disk, "cache")
	tm.pullSettled(t, "old", old)
	fill(t, disk, 3<<20) // the fresh layer does not fit without the old one

	tm.pull(t, "fresh", fresh)
	tm.blobs.Wait()
	layer := fresh.Layers[0].Digest
	if raw, err := os.ReadFile(blobFile(tm, layer)); err != nil || sha(raw) != layer {
		t.Fatalf("the new layer is not cached whole after eviction (%v)\n%s", err, tm.logs)
	}
	if cached(tm, old.Layers[0].Digest) {
		t.Errorf("the least recently used layer was not evicted")
	}
	logs := tm.logs.String()
	if n := strings.Count(logs, "disk is full: evicted"); n != 1 || strings.Contains(logs, "nothing can be evicted") {
		t.Errorf("%d evictions for one full disk, want 1\n%s", n, logs)
	}
}
