package segfetch_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubmirror/hubmirror/internal/segfetch"
)

// benchSize is the blob of BenchmarkFetch: four default chunks.
const benchSize = 32 << 20

// BenchmarkFetch downloads a 32 MiB blob from an origin that sends each
// response at 50 MB/s, as a CDN caps one connection: straight over one
// GET, and with Fetch over 1 and 4 connections (default 8 MiB chunks, the
// first one from the request that learns the size). "unpaced" is the same
// with no cap, to show the CPU cost of the path itself.
func BenchmarkFetch(b *testing.B) {
	data := randomBlob(benchSize, 1)
	for _, bc := range []struct {
		name  string
		conns int // 0: one plain GET
		rate  int64
	}{
		{"direct/50MBps", 0, 50e6},
		{"conns=1/50MBps", 1, 50e6},
		{"conns=4/50MBps", 4, 50e6},
		{"direct/unpaced", 0, 0},
		{"conns=4/unpaced", 4, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := newOrigin(b, data)
			o.setRate(bc.rate)
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "blob"), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			opt := segfetch.Options{Conns: bc.conns}
			src := o.source(benchSize)
			b.SetBytes(benchSize)
			b.ReportAllocs()
			start := o.sent.Load()
			for b.Loop() {
				h := sha256.New()
				if bc.conns == 0 {
					direct(b, o, f, h)
					continue
				}
				first := o.openFirst(b, opt.FirstRange())
				n, err := segfetch.Fetch(context.Background(), segfetch.Job{
					Size: benchSize, First: first, Source: src,
					WriteAt: func(p []byte, off int64) error { _, err := f.WriteAt(p, off); return err },
					ReadAt:  f, Hash: h,
				}, opt)
				if err != nil || n != benchSize {
					b.Fatalf("Fetch = %d, %v", n, err)
				}
			}
			b.ReportMetric(float64(o.sent.Load()-start)/float64(benchSize)/float64(b.N), "upstream/blob")
		})
	}
}

// direct downloads the blob over one GET into f and h, the way the mirror
// does today: each read written at its offset and hashed.
func direct(b *testing.B, o *origin, f *os.File, h io.Writer) {
	resp, err := o.client.Get(o.srv.URL + "/blob")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET: %d", resp.StatusCode)
	}
	buf := make([]byte, 256<<10)
	var off int64
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				b.Fatal(err)
			}
			h.Write(buf[:n])
			off += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if off != benchSize {
		b.Fatalf("GET: %d bytes", off)
	}
}

// BenchmarkHash compares hashing 256 KiB buffers as they are in memory
// with reading them back from a file just written (in the page cache)
// first, which is what Fetch does: the difference is the cost of hashing
// from the file.
func BenchmarkHash(b *testing.B) {
	data := randomBlob(benchSize, 2)
	path := filepath.Join(b.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	b.Run("memory", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			h := sha256.New()
			for off := 0; off < benchSize; off += len(buf) {
				h.Write(data[off : off+len(buf)])
			}
		}
	})
	b.Run("read-back", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			h := sha256.New()
			for off := int64(0); off < benchSize; off += int64(len(buf)) {
				if _, err := f.ReadAt(buf, off); err != nil {
					b.Fatal(err)
				}
				h.Write(buf)
			}
		}
	})
}
