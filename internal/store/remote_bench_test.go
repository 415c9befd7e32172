package store

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/opencontainers/go-digest"
)

// benchBlobSize is the blob of the warm-pull benchmarks: a large layer.
const benchBlobSize = 64 << 20

// A warm pull of one blob from the cache directory (a hit) against one
// from the store behind it, into an empty directory (a miss there: ranged
// GETs, hashed, kept), as in
//
//	go test ./internal/store -run '^$' -bench WarmPull -benchtime 20x
func BenchmarkWarmPull(b *testing.B) {
	data := pattern(benchBlobSize, 40)
	d := digest.FromBytes(data)
	s := newTestStore(b)
	seed := newInstance(b, s, 0, BlobsConfig{})
	if _, err := benchRead(seed.b, d, (&fakeUpstream{data: data}).open); err != nil {
		b.Fatal(err)
	}
	seed.b.Wait()
	if seed.st.RemoteUploads.Load() != 1 {
		b.Fatal("the blob did not reach the store")
	}

	b.Run("dir", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		for b.Loop() {
			if _, err := benchRead(seed.b, d, unreachable); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, conns := range []int{1, 4} {
		name := "store/one-connection"
		if conns > 1 {
			name = "store/4-connections"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchBlobSize)
			cfg := BlobsConfig{Log: slog.New(slog.DiscardHandler), DownloadConnections: conns}
			for b.Loop() {
				b.StopTimer()
				c, err := Open(b.TempDir(), Options{Remote: s, Log: cfg.Log})
				if err != nil {
					b.Fatal(err)
				}
				bs := NewBlobs(context.Background(), c, cfg)
				b.StartTimer()
				n, err := benchRead(bs, d, unreachable)
				bs.Wait()
				b.StopTimer()
				c.Close()
				if err != nil || n != benchBlobSize {
					b.Fatalf("%d bytes, %v", n, err)
				}
				b.StartTimer()
			}
		})
	}
}

// benchRead reads d whole through bs, as a client would.
func benchRead(bs *Blobs, d digest.Digest, open OpenFunc) (int64, error) {
	br, err := bs.Open(context.Background(), d, open)
	if err != nil {
		return 0, err
	}
	defer br.Close()
	return br.CopyTo(context.Background(), io.Discard, 0, -1)
}
