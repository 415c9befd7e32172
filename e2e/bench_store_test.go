package e2e

// Benchmarks of a mirror with an object store behind it (issue 15), on a
// real S3 server (SeaweedFS, internal/testutil/s3server). Run them with
//
//	go test ./e2e -run '^$' -bench Store -benchtime 1x -count 3

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// storeFillPatience bounds the wait for a mirror's uploads to the store in
// a benchmark's setup: 256 MiB on a loaded machine.
const storeFillPatience = 5 * time.Minute

// waitInStore waits until every layer of im is under its digest key in
// bucket/prefix, failing b after storeFillPatience.
func waitInStore(b *testing.B, srv *s3server.Server, bucket, prefix string, im *coldImage) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(storeFillPatience)
	for {
		missing := 0
		for _, l := range im.layers {
			key := prefix + "/blobs/sha256/" + l.Digest[7:9] + "/" + l.Digest[7:]
			if _, err := srv.Client().StatObject(ctx, bucket, key, minio.StatObjectOptions{}); err != nil {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d layers not in the store after %s", missing, len(im.layers), storeFillPatience)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkStoreWarm pulls a 4 × 64 MiB image through a fresh `serve`
// with an empty cache directory whose store (a bucket on SeaweedFS)
// already has every blob, then again through the same serve, from its
// cache directory: both times, their ratio (store-vs-local), and the
// upstream blob GETs of the store pull (0: every byte came from the
// store).
func BenchmarkStoreWarm(b *testing.B) {
	srv := s3server.Start(b)
	bucket := srv.NewBucket(b)
	const prefix = "warm"
	storeURL := srv.URL(bucket, prefix)
	im := newColdImage(b, 4, 64, 0)
	ctx := context.Background()
	client := newHTTPClient(1)
	b.Cleanup(client.CloseIdleConnections)

	fill := startMirrorEnv(b, im.hub.URL(), b.TempDir(), storeEnv(b), "--store", storeURL)
	if err := im.pullMirror(ctx, client, fill.Addr); err != nil {
		b.Fatalf("fill the store: %v", err)
	}
	waitInStore(b, srv, bucket, prefix, im)
	fill.stop(b)

	b.SetBytes(im.size)
	var storeS, localS, upstreamGets, storeReads float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		m := startMirrorEnv(b, im.hub.URL(), b.TempDir(), storeEnv(b), "--store", storeURL)
		client.CloseIdleConnections()
		before := im.hub.Counters()
		b.StartTimer()
		t0 := time.Now()
		if err := im.pullMirror(ctx, client, m.Addr); err != nil {
			b.Fatalf("pull from the store: %v", err)
		}
		storeS += time.Since(t0).Seconds()
		b.StopTimer()
		after := im.hub.Counters()
		gets := (after.BlobGets - before.BlobGets) + (after.CDNGets - before.CDNGets)
		if gets != 0 {
			b.Errorf("the pull from the store made %d upstream blob GETs, want 0", gets)
		}
		upstreamGets += float64(gets)
		storeReads += storeBlobReads(b, m)
		b.StartTimer()
		t0 = time.Now()
		if err := im.pullMirror(ctx, client, m.Addr); err != nil {
			b.Fatalf("pull from the cache directory: %v", err)
		}
		localS += time.Since(t0).Seconds()
		b.StopTimer()
		m.stopAndWipe(b)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(storeS/n, "store-s")
	b.ReportMetric(localS/n, "local-s")
	b.ReportMetric(storeS/localS, "store-vs-local")
	b.ReportMetric(upstreamGets/n, "upstream-blob-GETs")
	b.ReportMetric(storeReads/n, "store-blob-reads")
}

// BenchmarkStoreCold16x2 has 16 clients pull one 256 MiB image at once,
// 8 through each of two `serve` instances with empty cache directories on
// one empty bucket, the upstream CDN paced to 50 MB/s per connection as
// in BenchmarkColdCDN50x16. The baseline, in the same iteration, is the
// same 16 clients pulling directly from the hub at once. It reports both
// wall times, their ratio, and the upstream bytes as a multiple of the
// image: each instance that misses while the other is still downloading
// or uploading fetches the image itself, so up to 2.
func BenchmarkStoreCold16x2(b *testing.B) {
	const clients = 16
	srv := s3server.Start(b)
	im := newColdImage(b, 1, 256, 0)
	ctx := context.Background()
	direct := newHubClient(im.hub.URL(), clients)
	client := newHTTPClient(clients)
	b.Cleanup(client.CloseIdleConnections)
	b.SetBytes(im.size * clients)
	var directS, mirrorS, bytes, storeReads float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		direct.http.CloseIdleConnections()
		t0 := time.Now()
		if err := pullAll(clients, func(int) error { return im.pullDirect(ctx, direct) }); err != nil {
			b.Fatalf("direct pull: %v", err)
		}
		directS += time.Since(t0).Seconds()

		bucket := srv.NewBucket(b)
		storeURL := srv.URL(bucket, fmt.Sprintf("cold%d", i))
		ms := []*mirror{
			startMirrorEnv(b, im.hub.URL(), b.TempDir(), storeEnv(b), "--store", storeURL),
			startMirrorEnv(b, im.hub.URL(), b.TempDir(), storeEnv(b), "--store", storeURL),
		}
		client.CloseIdleConnections()
		before := im.hub.Counters()
		b.StartTimer()
		t0 = time.Now()
		err := pullAll(clients, func(c int) error { return im.pullMirror(ctx, client, ms[c%2].Addr) })
		mirrorS += time.Since(t0).Seconds()
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		after := im.hub.Counters()
		bytes += float64(after.CDNBytes - before.CDNBytes)
		for _, m := range ms {
			storeReads += storeBlobReads(b, m)
			m.stopAndWipe(b)
		}
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(directS/n, "direct-s")
	b.ReportMetric(mirrorS/n, "mirror-s")
	b.ReportMetric(mirrorS/directS, "vs-direct")
	b.ReportMetric(bytes/n/float64(im.size), "upstream-bytes/image")
	b.ReportMetric(storeReads/n, "store-blob-reads")
}

// pullAll runs pull for clients 0..n-1 at once and returns the first
// error.
func pullAll(n int, pull func(client int) error) error {
	errs := make(chan error, n)
	for c := range n {
		go func() { errs <- pull(c) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// storeBlobReads is the mirror's hubmirror_store_blob_reads_total, the
// blob downloads that came from the store, or 0 with a log line when
// /metrics lacks it.
func storeBlobReads(b *testing.B, m *mirror) float64 {
	b.Helper()
	const name = "hubmirror_store_blob_reads_total"
	resp, err := http.Get(m.URL("/metrics"))
	if err != nil {
		b.Logf("%s unknown: %v", name, err)
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok, err := sampleValue(sc.Text(), name); err == nil && ok {
			return v
		}
	}
	b.Logf("%s is not in /metrics (%v)", name, sc.Err())
	return 0
}
