package app

import (
	"testing"

	"github.com/hubmirror/hubmirror/internal/settings"
)

// The download settings reach the mirror's Config: the defaults when the
// file leaves them out, the file's values when it has them.
func TestEngineConfigDownloads(t *testing.T) {
	s := settings.Settings{Listen: "127.0.0.1:5000", CacheDir: t.TempDir()}
	c := engineConfig("/x/settings.json", s)
	if c.DownloadConnections != 4 || c.DownloadChunk != 8<<20 || c.PrefetchLayers != 3 {
		t.Errorf("defaults: %d connections, %d chunk, %d ahead; want 4, 8 MiB, 3", c.DownloadConnections, c.DownloadChunk, c.PrefetchLayers)
	}
	one, off := 1, 0
	s.DownloadConnections, s.DownloadChunk, s.PrefetchLayers = &one, "2MiB", &off
	c = engineConfig("/x/settings.json", s)
	if c.DownloadConnections != 1 || c.DownloadChunk != 2<<20 || c.PrefetchLayers != 0 {
		t.Errorf("set: %d connections, %d chunk, %d ahead; want 1, 2 MiB, 0", c.DownloadConnections, c.DownloadChunk, c.PrefetchLayers)
	}
}
