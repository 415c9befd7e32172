package e2e

// Benchmarks of one large layer pulled directly from the fake hub and
// through the mirror. Run them with
//
//	go test ./e2e -run '^$' -bench . -benchtime 1x
//
// or scripts/bench.sh. HUBMIRROR_BENCH_SIZE sets the layer size in MiB
// (default 1024). Mirror benchmarks report MB/s, the mirror's peak RSS
// (VmHWM) and upstream-bytes/layer: bytes the fake CDN served per layer
// delivered by a cold mirror (must be 1.00: each layer fetched once, even
// for 16 concurrent clients) or 0 for a warm one; and mirror-CPU-s/GiB, the
// CPU time (user and system) the mirror process spent per GiB delivered.
// The *WAN pair paces the fake CDN to 100 MiB/s, like a fast link to
// Docker Hub, where the loopback pair measures the mirror's own cost.

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// benchRepo is the repository the benchmark layer belongs to.
const benchRepo = "library/big"

// benchLayerFile is the random layer shared by all benchmarks, written once.
var benchLayerFile = sync.OnceValues(func() (string, error) {
	mib := int64(1024)
	if s := os.Getenv("HUBMIRROR_BENCH_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return "", fmt.Errorf("HUBMIRROR_BENCH_SIZE=%q: want a positive number of MiB", s)
		}
		mib = n
	}
	p := filepath.Join(workDir, fmt.Sprintf("layer-%dMiB", mib))
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	var seed [32]byte
	copy(seed[:], "hubmirror benchmark layer")
	if _, err := io.CopyN(f, rand.NewChaCha8(seed), mib<<20); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, f.Close()
})

// wanBandwidth is the CDN's bandwidth in the *WAN benchmarks: 100 MiB/s,
// about a gigabit link, the case of a laptop pulling from Docker Hub.
const wanBandwidth = 100 << 20

// benchHub starts a fake hub serving the benchmark layer from disk in
// benchRepo, each CDN response paced to bandwidth bytes/s (0: unlimited).
func benchHub(b *testing.B, bandwidth int64) (*fakehub.Hub, fakehub.Blob) {
	b.Helper()
	p, err := benchLayerFile()
	if err != nil {
		b.Fatal(err)
	}
	hub := fakehub.New()
	b.Cleanup(hub.Close)
	blob, err := hub.AddBlobFile(p)
	if err != nil {
		b.Fatal(err)
	}
	hub.AddImageWithBlobs(benchRepo, "latest", blob)
	hub.SetCDNBandwidth(bandwidth)
	return hub, blob
}

// BenchmarkDirect pulls the layer from the fake hub the way docker does,
// without the mirror: the baseline.
func BenchmarkDirect(b *testing.B) { benchDirect(b, 0) }

// BenchmarkDirectWAN is BenchmarkDirect over a 100 MiB/s upstream link.
func BenchmarkDirectWAN(b *testing.B) { benchDirect(b, wanBandwidth) }

func benchDirect(b *testing.B, bandwidth int64) {
	hub, blob := benchHub(b, bandwidth)
	c := newHubClient(hub.URL(), 1)
	b.SetBytes(blob.Size)
	b.ResetTimer()
	for range b.N {
		if err := c.pullBlob(context.Background(), benchRepo, blob.Digest, blob.Size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMirrorCold pulls the layer through a fresh mirror with an empty
// cache each iteration; starting the mirror is not timed.
func BenchmarkMirrorCold(b *testing.B) {
	benchCold(b, 1, 0)
}

// BenchmarkMirrorColdWAN is BenchmarkMirrorCold over a 100 MiB/s upstream
// link.
func BenchmarkMirrorColdWAN(b *testing.B) {
	benchCold(b, 1, wanBandwidth)
}

// BenchmarkMirrorCold16 is BenchmarkMirrorCold with 16 clients pulling the
// same layer at once; the mirror must fetch it from upstream only once.
func BenchmarkMirrorCold16(b *testing.B) {
	benchCold(b, 16, 0)
}

func benchCold(b *testing.B, clients int, bandwidth int64) {
	hub, blob := benchHub(b, bandwidth)
	client := newHTTPClient(clients)
	var peak, cpu float64
	start := hub.Counters().CDNBytes
	b.SetBytes(blob.Size * int64(clients))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		m := startMirror(b, hub.URL())
		b.StartTimer()

		errs := make(chan error, clients)
		for range clients {
			go func() {
				errs <- fetchMirrorBlob(context.Background(), client, m.Addr, benchRepo, blob.Digest, blob.Size)
			}()
		}
		var failed error
		for range clients {
			if err := <-errs; err != nil && failed == nil {
				failed = err
			}
		}

		b.StopTimer()
		if failed != nil {
			b.Fatal(failed)
		}
		peak = max(peak, peakRSS(b, m))
		cpu += cpuSeconds(b, m)
		m.stop(b)
		client.CloseIdleConnections()
		if err := os.RemoveAll(m.CacheDir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	perLayer := float64(hub.Counters().CDNBytes-start) / float64(blob.Size) / float64(b.N)
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(perLayer, "upstream-bytes/layer")
	b.ReportMetric(cpu/float64(b.N)/(float64(blob.Size)*float64(clients)/(1<<30)), "mirror-CPU-s/GiB")
	if perLayer != 1 {
		b.Errorf("upstream-bytes/layer = %.4f, want 1.00: the mirror must fetch a layer from upstream once, however many clients want it", perLayer)
	}
}

// BenchmarkMirrorWarm pulls the layer from a mirror whose cache already
// holds it (filled before the timer starts).
func BenchmarkMirrorWarm(b *testing.B) {
	hub, blob := benchHub(b, 0)
	client := newHTTPClient(1)
	b.Cleanup(client.CloseIdleConnections)
	m := startMirror(b, hub.URL())
	ctx := context.Background()
	if err := fetchMirrorBlob(ctx, client, m.Addr, benchRepo, blob.Digest, blob.Size); err != nil {
		b.Fatalf("fill the cache: %v", err)
	}
	start := hub.Counters().CDNBytes
	cpuBefore := cpuSeconds(b, m)
	b.SetBytes(blob.Size)
	b.ResetTimer()
	for range b.N {
		if err := fetchMirrorBlob(ctx, client, m.Addr, benchRepo, blob.Digest, blob.Size); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perLayer := float64(hub.Counters().CDNBytes-start) / float64(blob.Size) / float64(b.N)
	b.ReportMetric(peakRSS(b, m), "peak-RSS-MiB")
	b.ReportMetric(perLayer, "upstream-bytes/layer")
	b.ReportMetric((cpuSeconds(b, m)-cpuBefore)/float64(b.N)/(float64(blob.Size)/(1<<30)), "mirror-CPU-s/GiB")
	if perLayer != 0 {
		b.Errorf("upstream-bytes/layer = %.4f from a warm cache, want 0", perLayer)
	}
}

// BenchmarkMirrorWarmAfterRestart pulls the cached layer from a mirror
// that was just started on the cache: the first serve of each blob in a
// process hashes the file before it goes out (the price of never serving a
// damaged cached blob); later serves are BenchmarkMirrorWarm.
func BenchmarkMirrorWarmAfterRestart(b *testing.B) {
	hub, blob := benchHub(b, 0)
	client := newHTTPClient(1)
	b.Cleanup(client.CloseIdleConnections)
	cache := b.TempDir()
	m := startMirrorWithCache(b, hub.URL(), cache)
	ctx := context.Background()
	if err := fetchMirrorBlob(ctx, client, m.Addr, benchRepo, blob.Digest, blob.Size); err != nil {
		b.Fatalf("fill the cache: %v", err)
	}
	start := hub.Counters().CDNBytes
	var cpu, peak float64
	b.SetBytes(blob.Size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		m.stop(b)
		client.CloseIdleConnections()
		m = startMirrorWithCache(b, hub.URL(), cache)
		cpuBefore := cpuSeconds(b, m)
		b.StartTimer()
		if err := fetchMirrorBlob(ctx, client, m.Addr, benchRepo, blob.Digest, blob.Size); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuSeconds(b, m) - cpuBefore
		peak = max(peak, peakRSS(b, m))
		b.StartTimer()
	}
	b.StopTimer()
	perLayer := float64(hub.Counters().CDNBytes-start) / float64(blob.Size) / float64(b.N)
	b.ReportMetric(peak, "peak-RSS-MiB")
	b.ReportMetric(perLayer, "upstream-bytes/layer")
	b.ReportMetric(cpu/float64(b.N)/(float64(blob.Size)/(1<<30)), "mirror-CPU-s/GiB")
	if perLayer != 0 {
		b.Errorf("upstream-bytes/layer = %.4f from a warm cache, want 0", perLayer)
	}
}

// cpuSeconds returns the mirror's CPU time so far, or 0 where /proc is missing.
func cpuSeconds(b *testing.B, m *mirror) float64 {
	b.Helper()
	s, err := m.cpuSeconds()
	if err != nil {
		b.Logf("CPU time unknown: %v", err)
		return 0
	}
	return s
}

// peakRSS returns the mirror's peak RSS in MiB, or 0 where /proc is missing.
func peakRSS(b *testing.B, m *mirror) float64 {
	b.Helper()
	rss, err := m.peakRSSMiB()
	if err != nil {
		b.Logf("peak RSS unknown: %v", err)
		return 0
	}
	return rss
}
