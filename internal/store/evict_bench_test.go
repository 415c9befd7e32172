package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// fillManifests writes n image manifests into dir's layout, each naming a
// config and a layer that are not cached, so that none of them goes with
// the blobs a benchmark evicts.
func fillManifests(b *testing.B, dir string, n int) {
	b.Helper()
	for i := range n {
		sum := func(s string) string { return digest.FromString(s).String() }
		data := []byte(`{"schemaVersion":2,"mediaType":"` + oci.MediaTypeDockerManifest + `",` +
			`"config":{"digest":"` + sum(fmt.Sprint("config ", i)) + `","size":100},` +
			`"layers":[{"digest":"` + sum(fmt.Sprint("layer ", i)) + `","size":1000}]}`)
		hex := digest.FromBytes(data).Encoded()
		p := filepath.Join(dir, "manifests", "sha256", hex[:2], hex)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, manifestBytes(oci.MediaTypeDockerManifest, data), 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvictWithManifests measures one eviction (a blob and the one
// manifest that names it) with 1,000 or 10,000 other manifests cached: the
// cost should not grow with them.
// Run: go test ./internal/store -run '^$' -bench EvictWithManifests
func BenchmarkEvictWithManifests(b *testing.B) {
	for _, cached := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("manifests=%d", cached), func(b *testing.B) {
			dir := b.TempDir()
			fillManifests(b, dir, cached)
			c := openCache(b, dir, Options{})
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				blob := []byte(fmt.Sprint("evicted blob ", i))
				d := digest.FromBytes(blob)
				if err := os.MkdirAll(filepath.Dir(c.blobPath(d)), 0o700); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(c.blobPath(d), blob, 0o600); err != nil {
					b.Fatal(err)
				}
				data := []byte(`{"layers":[{"digest":"` + string(d) + `"}]}`)
				m := digest.FromBytes(data)
				if err := c.PutManifest(Manifest{MediaType: v1.MediaTypeImageManifest, Data: data, Digest: m}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := c.removeBlobs([]digest.Digest{d}); err != nil {
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
