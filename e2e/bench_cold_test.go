package e2e

// Cold-pull benchmarks over a slow upstream: the figures issue 14 asks
// for, each as a ratio to the direct pull measured in the same benchmark.
// Run them with
//
//	go test ./e2e -run '^$' -bench 'Cold(CDN|Latency)' -benchtime 1x
//
// Each iteration pulls directly from the fake hub first (docker's way: one
// token, the manifest, then each layer over one connection, one at a
// time), then through a fresh `hubmirror serve` with an empty cache, and
// reports both times, their ratio (vs-direct), the requests and bytes the
// fake hub served for the mirror's pull, and the mirror's peak RSS and CPU.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// cdnPerConnection is the slow CDN of these benchmarks: every response is
// paced to 50 MB/s, so one connection cannot go faster, as on a long or
// lossy path to Docker Hub's CDN.
const cdnPerConnection = 50_000_000

// benchBlobFile writes (once per process) a random file of mib MiB named
// by seed and returns its path.
var benchBlobFiles sync.Map // name -> func() (string, error)

func benchBlobFile(b testing.TB, mib int64, seed string) string {
	b.Helper()
	name := fmt.Sprintf("blob-%s-%dMiB", seed, mib)
	f, _ := benchBlobFiles.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		p := filepath.Join(workDir, name)
		f, err := os.Create(p)
		if err != nil {
			return "", err
		}
		var s [32]byte
		copy(s[:], seed)
		if _, err := io.CopyN(f, rand.NewChaCha8(s), mib<<20); err != nil {
			f.Close()
			return "", fmt.Errorf("write %s: %w", p, err)
		}
		return p, f.Close()
	}))
	p, err := f.(func() (string, error))()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// coldImage is an image on a fake hub for the cold benchmarks.
type coldImage struct {
	hub    *fakehub.Hub
	repo   string
	layers []fakehub.Blob
	size   int64 // of all layers
}

// newColdImage starts a fake hub with one image of n random layers of mib
// MiB each, behind a CDN paced to cdnPerConnection per response and with
// latency added to every request.
func newColdImage(b *testing.B, n int, mib int64, latency time.Duration) *coldImage {
	b.Helper()
	hub := fakehub.New()
	b.Cleanup(hub.Close)
	im := &coldImage{hub: hub, repo: "library/cold"}
	for i := range n {
		blob, err := hub.AddBlobFile(benchBlobFile(b, mib, fmt.Sprintf("cold layer %d", i)))
		if err != nil {
			b.Fatal(err)
		}
		im.layers = append(im.layers, blob)
		im.size += blob.Size
	}
	hub.AddImageWithBlobs(im.repo, "latest", im.layers...)
	hub.SetCDNBandwidth(cdnPerConnection)
	hub.SetLatency(latency)
	return im
}

// pullDirect pulls the image from the hub as docker does with
// max-concurrent-downloads 1: a token, the manifest, each layer in turn.
func (im *coldImage) pullDirect(ctx context.Context, c *hubClient) error {
	tok, err := c.token(ctx, im.repo)
	if err != nil {
		return err
	}
	resp, err := c.get(ctx, c.registry+"/v2/"+im.repo+"/manifests/latest", "Bearer "+tok)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET manifest: %s", resp.Status)
	}
	for _, l := range im.layers {
		if err := c.pullBlobWithToken(ctx, im.repo, tok, l.Digest, l.Size); err != nil {
			return err
		}
	}
	return nil
}

// pullMirror pulls the image through the mirror at addr the same way.
func (im *coldImage) pullMirror(ctx context.Context, client *http.Client, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/"+im.repo+"/manifests/latest", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", fakehub.MediaTypeDockerManifest+", "+fakehub.MediaTypeOCIManifest)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	var m struct{ Layers []struct{ Digest string } }
	err = json.NewDecoder(resp.Body).Decode(&m)
	drain(resp)
	if resp.StatusCode != http.StatusOK || err != nil {
		return fmt.Errorf("mirror GET manifest: %s %v", resp.Status, err)
	}
	if len(m.Layers) != len(im.layers) {
		return fmt.Errorf("mirror manifest has %d layers, want %d", len(m.Layers), len(im.layers))
	}
	for _, l := range im.layers {
		if err := fetchMirrorBlob(ctx, client, addr, im.repo, l.Digest, l.Size); err != nil {
			return err
		}
	}
	return nil
}

// benchColdVsDirect runs the comparison; clients pull through the mirror
// at once (each its own connection), after one direct pull.
func benchColdVsDirect(b *testing.B, im *coldImage, clients int) {
	ctx := context.Background()
	direct := newHubClient(im.hub.URL(), 1)
	client := newHTTPClient(clients)
	b.SetBytes(im.size * int64(clients))
	var directS, mirrorS, peak, cpu, reqs, bytes float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		direct.http.CloseIdleConnections()
		t0 := time.Now()
		if err := im.pullDirect(ctx, direct); err != nil {
			b.Fatalf("direct pull: %v", err)
		}
		directS += time.Since(t0).Seconds()
		m := startMirror(b, im.hub.URL())
		before := im.hub.Counters()
		reqsBefore := len(im.hub.Requests())
		b.StartTimer()

		t0 = time.Now()
		errs := make(chan error, clients)
		for range clients {
			go func() { errs <- im.pullMirror(ctx, client, m.Addr) }()
		}
		var failed error
		for range clients {
			if err := <-errs; err != nil && failed == nil {
				failed = err
			}
		}
		mirrorS += time.Since(t0).Seconds()

		b.StopTimer()
		if failed != nil {
			b.Fatal(failed)
		}
		after := im.hub.Counters()
		bytes += float64(after.CDNBytes - before.CDNBytes)
		reqs += float64(len(im.hub.Requests()) - reqsBefore)
		peak = max(peak, peakRSS(b, m))
		cpu += cpuSeconds(b, m)
		m.stopAndWipe(b)
		client.CloseIdleConnections()
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(directS/n, "direct-s")
	b.ReportMetric(mirrorS/n, "mirror-s")
	b.ReportMetric(mirrorS/directS, "vs-direct")
	b.ReportMetric(bytes/n/float64(im.size), "upstream-bytes/image")
	b.ReportMetric(reqs/n, "upstream-reqs/pull")
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(cpu/n/(float64(im.size)*float64(clients)/(1<<30)), "mirror-CPU-s/GiB")
}

// BenchmarkColdCDN50 pulls one 256 MiB layer through a CDN paced to
// 50 MB/s per connection (target: ≤ 0.4× direct).
func BenchmarkColdCDN50(b *testing.B) {
	benchColdVsDirect(b, newColdImage(b, 1, 256, 0), 1)
}

// BenchmarkColdCDN50x16 is BenchmarkColdCDN50 with 16 clients at once
// (target: upstream bytes ≤ 1.02× the layer).
func BenchmarkColdCDN50x16(b *testing.B) {
	benchColdVsDirect(b, newColdImage(b, 1, 256, 0), 16)
}

// BenchmarkColdLatency6 pulls a 6 × 32 MiB image with 50 ms added to every
// upstream request, layers one at a time (target: ≤ 0.6× direct).
func BenchmarkColdLatency6(b *testing.B) {
	benchColdVsDirect(b, newColdImage(b, 6, 32, 50*time.Millisecond), 1)
}

// BenchmarkWarmCDN50 pulls the 256 MiB layer from a mirror that has it,
// against the direct pull over the 50 MB/s CDN (target: ≤ 0.4× direct).
func BenchmarkWarmCDN50(b *testing.B) {
	im := newColdImage(b, 1, 256, 0)
	ctx := context.Background()
	direct := newHubClient(im.hub.URL(), 1)
	client := newHTTPClient(1)
	m := startMirror(b, im.hub.URL())
	if err := im.pullMirror(ctx, client, m.Addr); err != nil {
		b.Fatalf("fill the cache: %v", err)
	}
	b.SetBytes(im.size)
	var directS, mirrorS float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		t0 := time.Now()
		if err := im.pullDirect(ctx, direct); err != nil {
			b.Fatalf("direct pull: %v", err)
		}
		directS += time.Since(t0).Seconds()
		b.StartTimer()
		t0 = time.Now()
		if err := im.pullMirror(ctx, client, m.Addr); err != nil {
			b.Fatal(err)
		}
		mirrorS += time.Since(t0).Seconds()
	}
	b.StopTimer()
	b.ReportMetric(directS/float64(b.N), "direct-s")
	b.ReportMetric(mirrorS/float64(b.N), "mirror-s")
	b.ReportMetric(mirrorS/directS, "vs-direct")
	b.ReportMetric(peakRSS(b, m), "peak-RSS-MiB")
}
