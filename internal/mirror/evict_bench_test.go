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
					m.blobs.wait()
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
				m.blobs.wait()
				if n := m.cache.index.size(); n > limit {
					b.Errorf("%d bytes kept over the %d limit", n, limit)
				}
			})
		}
	}
}

// fillManifests writes n image manifests into dir's layout, each naming a
// config and a layer that are not cached, so that none of them goes with
// the blobs a benchmark evicts.
func fillManifests(b *testing.B, dir string, n int) {
	b.Helper()
	for i := range n {
		sum := func(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }
		data := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
			`"config":{"digest":"` + sum(fmt.Sprint("config ", i)) + `","size":100},` +
			`"layers":[{"digest":"` + sum(fmt.Sprint("layer ", i)) + `","size":1000}]}`)
		hex := fmt.Sprintf("%x", sha256.Sum256(data))
		p := filepath.Join(dir, "manifests", "sha256", hex[:2], hex)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			b.Fatal(err)
		}
		raw := append([]byte("application/vnd.docker.distribution.manifest.v2+json\n"), data...)
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvictWithManifests measures one eviction (a blob and the one
// manifest that names it) with 1,000 or 10,000 other manifests cached: the
// cost should not grow with them.
// Run: go test ./internal/mirror -run '^$' -bench EvictWithManifests
func BenchmarkEvictWithManifests(b *testing.B) {
	for _, cached := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("manifests=%d", cached), func(b *testing.B) {
			dir := b.TempDir()
			fillManifests(b, dir, cached)
			c, err := openCache(dir, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer c.close()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				blob := []byte(fmt.Sprint("evicted blob ", i))
				d := digestOf(blob)
				if err := os.MkdirAll(filepath.Dir(c.blobPath(d)), 0o700); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(c.blobPath(d), blob, 0o600); err != nil {
					b.Fatal(err)
				}
				data := []byte(`{"layers":[{"digest":"` + string(d) + `"}]}`)
				m := digestOf(data)
				if err := c.putManifest(cachedManifest{MediaType: "application/vnd.oci.image.manifest.v1+json", Data: data, Digest: m}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := c.removeBlobs([]digest{d}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := os.Stat(c.manifestPath(m)); err == nil {
					b.Fatal("the manifest naming the evicted blob stayed")
				}
				b.StartTimer()
			}
		})
	}
}
