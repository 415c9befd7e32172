package mirror

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// fillCache writes n verified 1 KiB blobs into dir's layout and returns
// their total size.
func fillCache(b *testing.B, dir string, n int) int64 {
	b.Helper()
	var total int64
	buf := make([]byte, 1024)
	for i := range n {
		copy(buf, fmt.Sprintf("filler blob %d", i))
		sum := fmt.Sprintf("%x", sha256.Sum256(buf))
		p := filepath.Join(dir, "blobs", "sha256", sum[:2], sum)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o600); err != nil {
			b.Fatal(err)
		}
		total += int64(len(buf))
	}
	return total
}

// BenchmarkPullLatency measures one pull of a small blob with 0 or 10,000
// blobs already cached and the cache at its limit, so every new blob makes
// the mirror evict ("cold": a new blob each time; "warm": a cached one).
// Run: go test ./internal/mirror -run '^$' -bench PullLatency -benchtime 2000x
func BenchmarkPullLatency(b *testing.B) {
	for _, cachedBlobs := range []int{0, 10_000} {
		for _, mode := range []string{"cold", "warm"} {
			b.Run(fmt.Sprintf("%s/cached=%d", mode, cachedBlobs), func(b *testing.B) {
				hub := fakehub.New()
				defer hub.Close()
				dir := b.TempDir()
				for _, d := range []string{"blobs", "manifests", "tags", "tmp"} {
					_ = os.MkdirAll(filepath.Join(dir, d), 0o700)
				}
				hub.AddImage("library/bench", "x", []byte("x")) // the repository must exist
				limit := fillCache(b, dir, cachedBlobs) + 64<<10
				blobs := make([]fakehub.Blob, b.N)
				for i := range blobs {
					data := make([]byte, 4096)
					copy(data, fmt.Sprintf("bench blob %d %d", cachedBlobs, i))
					blobs[i] = hub.AddBlob(data)
				}
				m, err := New(Config{Listen: "127.0.0.1:0", CacheDir: dir, CacheMax: limit,
					Upstreams: map[string]string{"docker.io": hub.URL()}, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				if err := m.Start(); err != nil {
					b.Fatal(err)
				}
				defer m.Stop(b.Context())
				client := &http.Client{}
				get := func(d string) {
					resp, err := client.Get("http://" + m.Addr() + "/v2/library/bench/blobs/" + d)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
				if mode == "warm" {
					get(blobs[0].Digest)
					m.blobs.Wait()
				}
				b.ResetTimer()
				for i := range b.N {
					if mode == "cold" {
						get(blobs[i].Digest)
					} else {
						get(blobs[0].Digest)
					}
				}
				b.StopTimer()
				m.blobs.Wait()
				if n := m.cache.Size(); n > limit {
					b.Errorf("%d bytes kept over the %d limit", n, limit)
				}
			})
		}
	}
}
