package mirror

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// A second pull of an image makes no upstream blob GET and no manifest GET:
// the tag is revalidated with a HEAD only.
func TestSecondPullServedFromCache(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "3.20", fakehub.Layer(map[string]string{"etc/os-release": "alpine"}))
	tm := startMirror(t, hub)

	first := tm.pull(t, "alpine", img)
	if got := first.header.Get("X-Hubmirror-Cache"); got != "miss" {
		t.Errorf("first pull: cache %q, want miss", got)
	}
	c1 := hub.Counters()
	if c1.CDNGets != 2 || c1.ManifestGets != 1 {
		t.Fatalf("first pull: %d CDN GETs, %d manifest GETs; want 2 and 1", c1.CDNGets, c1.ManifestGets)
	}

	second := tm.pull(t, "library/alpine", img)
	if got := second.header.Get("X-Hubmirror-Cache"); got != "hit" {
		t.Errorf("second pull: cache %q, want hit", got)
	}
	c2 := hub.Counters()
	if c2.CDNGets != c1.CDNGets || c2.BlobGets != c1.BlobGets {
		t.Errorf("second pull fetched blobs upstream: CDN GETs %d→%d", c1.CDNGets, c2.CDNGets)
	}
	if c2.ManifestGets != c1.ManifestGets {
		t.Errorf("second pull sent a manifest GET upstream (counts against the rate limit)")
	}
	if c2.ManifestHeads != c1.ManifestHeads+1 {
		t.Errorf("second pull: %d manifest HEADs upstream, want 1", c2.ManifestHeads-c1.ManifestHeads)
	}
	if c2.CDNAuthRejected != 0 {
		t.Errorf("the mirror sent Authorization to the CDN %d times", c2.CDNAuthRejected)
	}
	for _, r := range hub.Requests() {
		if r.Server == fakehub.ServerCDN && r.Authorization != "" {
			t.Errorf("CDN request %s carried Authorization", r.Path)
		}
	}
	st := tm.Status()
	if st.CacheHits == 0 || st.BytesFromCache == 0 || st.CacheBytes == 0 {
		t.Errorf("status after a cached pull: %+v", st.Counters)
	}
}

// Names without a namespace get library/, and containerd's ?ns= is accepted.
func TestNamesAndNamespaceParameter(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/busybox", "1", []byte("layer"))
	tm := startMirror(t, hub)
	for _, path := range []string{
		"/v2/busybox/manifests/1",
		"/v2/library/busybox/manifests/1",
		"/v2/busybox/manifests/1?ns=docker.io",
		"/v2/library/busybox/manifests/" + img.Digest + "?ns=docker.io",
	} {
		r := tm.get(t, path, "Accept", fullAccept)
		if r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != img.Digest {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
		if r.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Errorf("GET %s: no Docker-Distribution-API-Version", path)
		}
	}
	r := tm.get(t, "/v2/busybox/manifests/1?ns=registry.example.com")
	if r.status != http.StatusNotFound || errorCode(t, r) != codeNameUnknown {
		t.Errorf("unknown ns: %d %s", r.status, r.body)
	}
	if v := tm.get(t, "/v2/"); v.status != http.StatusOK || v.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("GET /v2/: %d %v", v.status, v.header)
	}
}

// 16 concurrent pulls of one uncached blob make one upstream download, and
// every client gets bytes while the download is still running.
func TestConcurrentPullsShareOneDownload(t *testing.T) {
	hub := newHub(t)
	layer := pattern(4 << 20)
	img := hub.AddImage("library/big", "1", layer)
	d := img.Layers[0].Digest
	half := int64(len(layer) / 2)
	reached, release := hub.PauseBlob(d, half)
	defer release()
	tm := startMirror(t, hub)
	t.Cleanup(func() {
		// A cleanup, so that the log is printed after a Fatalf too (await's).
		if t.Failed() {
			t.Logf("mirror log:\n%s", tm.logs)
		}
	})

	const clients = 16
	var wg sync.WaitGroup
	gotHalf := make(chan int, clients)
	results := make(chan []byte, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(tm.base + "/v2/library/big/blobs/" + d)
			if err != nil {
				t.Error(err)
				results <- nil
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, half)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Errorf("client %d: first half: %v", i, err)
			}
			gotHalf <- i
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Errorf("client %d: rest: %v", i, err)
			}
			results <- append(buf, rest...)
		}()
	}
	await(t, reached, "upstream to reach the pause")
	for range clients {
		// Every client has half the blob while upstream is still paused.
		await(t, gotHalf, "a client to receive the first half")
	}
	release()
	wg.Wait()
	close(results)
	for body := range results {
		if !bytes.Equal(body, layer) {
			t.Fatalf("a client got %d wrong bytes", len(body))
		}
	}
	c := hub.Counters()
	if c.BlobGetsByDigest[d] != 1 || c.BlobGets != 1 {
		t.Errorf("upstream downloads of the blob: %d CDN, %d registry; want 1", c.BlobGetsByDigest[d], c.BlobGets)
	}
	if c.CDNBytes != int64(len(layer)) {
		t.Errorf("upstream sent %d bytes for a %d-byte layer", c.CDNBytes, len(layer))
	}
	if _, err := os.Stat(filepath.Join(tm.dir, "blobs", "sha256", d[7:9], d[7:])); err != nil {
		t.Errorf("blob not cached: %v", err)
	}
}

// A client that disconnects does not abort a download others are reading.
func TestClientDisconnectKeepsDownload(t *testing.T) {
	hub := newHub(t)
	layer := pattern(2 << 20)
	img := hub.AddImage("library/app", "1", layer)
	d := img.Layers[0].Digest
	reached, release := hub.PauseBlob(d, 1<<20)
	defer release()
	tm := startMirror(t, hub)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tm.base+"/v2/library/app/blobs/"+d, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	await(t, reached, "upstream to reach the pause")
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel() // the first client goes away mid-blob
	resp.Body.Close()

	other := make(chan reply, 1)
	go func() { other <- tm.get(t, "/v2/library/app/blobs/"+d) }()
	release()
	r := await(t, other, "the second client")
	if r.status != http.StatusOK || !bytes.Equal(r.body, layer) {
		t.Fatalf("second client: %d, %d bytes", r.status, len(r.body))
	}
	if n := hub.Counters().BlobGetsByDigest[d]; n != 1 {
		t.Errorf("%d upstream downloads, want 1", n)
	}
}

// A connection dropped mid-blob is resumed with Range (or from the start
// when upstream ignores Range) and the client sees the right bytes.
func TestUpstreamDropIsResumed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rangeOK    bool
		wantBytes  int64 // CDN bytes for a 3 MiB layer dropped twice at 1 MiB
		wantRanges bool
	}{
		{"with range", true, 3 << 20, true},
		{"without range", false, 5 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub(t)
			hub.SetCDNRange(tc.rangeOK)
			layer := pattern(3 << 20)
			img := hub.AddImage("library/flaky", "1", layer)
			hub.DropBlobAfter(1<<20, 2)
			tm := startMirror(t, hub)

			r := tm.get(t, "/v2/library/flaky/blobs/"+img.Layers[0].Digest)
			if r.status != http.StatusOK || !bytes.Equal(r.body, layer) {
				t.Fatalf("got %d, %d bytes (want %d)", r.status, len(r.body), len(layer))
			}
			c := hub.Counters()
			if c.CDNGets != 3 {
				t.Errorf("%d CDN GETs, want 3 (two dropped, one resume)", c.CDNGets)
			}
			ranges := 0
			for _, q := range hub.Requests() {
				if q.Server == fakehub.ServerCDN && q.Header.Get("Range") != "" {
					ranges++
				}
			}
			if ranges != 2 {
				t.Errorf("%d resumes asked for a Range, want 2", ranges)
			}
			if tc.wantRanges && c.CDNBytes != tc.wantBytes {
				t.Errorf("CDN sent %d bytes, want %d", c.CDNBytes, tc.wantBytes)
			}
		})
	}
}

// A pull that outlives its token still succeeds: the mirror fetches a new
// token on 401 and retries once.
func TestExpiredTokensAreRefreshed(t *testing.T) {
	hub := newHub(t)
	hub.SetTokenTTL(time.Second)
	img := hub.AddImage("library/slow", "1", []byte("one"), []byte("two"))
	tm := startMirror(t, hub)

	m := tm.get(t, "/v2/library/slow/manifests/1", "Accept", fullAccept)
	if m.status != http.StatusOK {
		t.Fatalf("manifest: %d %s", m.status, m.body)
	}
	before := hub.Counters()
	hub.Advance(2 * time.Second) // every token issued so far has expired
	for _, b := range img.Layers {
		r := tm.get(t, "/v2/library/slow/blobs/"+b.Digest)
		if r.status != http.StatusOK || sha(r.body) != b.Digest {
			t.Fatalf("blob after expiry: %d %s", r.status, r.body)
		}
	}
	after := hub.Counters()
	if after.TokenRequests <= before.TokenRequests {
		t.Errorf("no new token after expiry")
	}
	if after.Unauthorized <= before.Unauthorized {
		t.Errorf("the expired token was never refused: the test did not exercise refresh")
	}

	hub.ExpireTokens()
	tm.pull(t, "library/slow", img)
}

// The client's Accept header is passed on: a client that takes only single
// manifests gets the linux/amd64 manifest of a multi-arch image.
func TestAcceptHeaderIsHonoured(t *testing.T) {
	hub := newHub(t)
	amd := hub.AddPlatformImage("library/multi", "", "linux/amd64", []byte("amd64"))
	arm := hub.AddPlatformImage("library/multi", "", "linux/arm64", []byte("arm64"))
	idx := hub.AddIndex("library/multi", "latest", fakehub.MediaTypeDockerList, map[string]fakehub.Image{
		"linux/amd64": amd, "linux/arm64": arm,
	})
	tm := startMirror(t, hub)

	for _, tc := range []struct {
		accept, wantDigest, wantType string
	}{
		{fullAccept, idx.Digest, fakehub.MediaTypeDockerList},
		{fakehub.MediaTypeDockerManifest, amd.Digest, fakehub.MediaTypeDockerManifest},
		{fullAccept, idx.Digest, fakehub.MediaTypeDockerList}, // now from the cache
	} {
		r := tm.get(t, "/v2/multi/manifests/latest", "Accept", tc.accept)
		if r.status != http.StatusOK {
			t.Fatalf("Accept %s: %d %s", tc.accept, r.status, r.body)
		}
		if got := r.header.Get("Docker-Content-Digest"); got != tc.wantDigest || sha(r.body) != got {
			t.Errorf("Accept %s: digest %s, want %s", tc.accept, got, tc.wantDigest)
		}
		if got := r.header.Get("Content-Type"); got != tc.wantType {
			t.Errorf("Accept %s: Content-Type %s, want %s", tc.accept, got, tc.wantType)
		}
		if r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
			t.Errorf("Content-Length %s for %d bytes", r.header.Get("Content-Length"), len(r.body))
		}
	}
	// Offline, each client still gets a manifest it accepts.
	hub.SetDown(true)
	r := tm.get(t, "/v2/multi/manifests/latest", "Accept", fakehub.MediaTypeDockerManifest)
	if r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != amd.Digest {
		t.Errorf("offline, single-manifest client: %d %s", r.status, r.header.Get("Docker-Content-Digest"))
	}
}

// A moved tag is noticed by the HEAD revalidation.
func TestMovedTagIsRevalidated(t *testing.T) {
	hub := newHub(t)
	v1 := hub.AddImage("library/app", "stable", []byte("v1"))
	tm := startMirror(t, hub)
	tm.pull(t, "app", v1)
	v2 := hub.AddImage("library/app", "stable", []byte("v2"))
	tm.pull(t, "app", v2)
	r := tm.get(t, "/v2/app/manifests/"+v1.Digest)
	if r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != "hit" {
		t.Errorf("old digest: %d cache=%s", r.status, r.header.Get("X-Hubmirror-Cache"))
	}
}

// Range requests get 206, from the cache and during a download.
func TestRangeRequests(t *testing.T) {
	hub := newHub(t)
	layer := pattern(1 << 20)
	img := hub.AddImage("library/r", "1", layer)
	d := img.Layers[0].Digest
	tm := startMirror(t, hub)
	for _, round := range []string{"while downloading", "from the cache"} {
		r := tm.get(t, "/v2/library/r/blobs/"+d, "Range", "bytes=1000-")
		if r.status != http.StatusPartialContent || !bytes.Equal(r.body, layer[1000:]) {
			t.Errorf("%s: %d, %d bytes", round, r.status, len(r.body))
		}
		if want := "bytes 1000-1048575/1048576"; r.header.Get("Content-Range") != want {
			t.Errorf("%s: Content-Range %q, want %q", round, r.header.Get("Content-Range"), want)
		}
		r = tm.get(t, "/v2/library/r/blobs/"+d, "Range", "bytes=5-9")
		if r.status != http.StatusPartialContent || !bytes.Equal(r.body, layer[5:10]) {
			t.Errorf("%s: bytes=5-9 gave %d %q", round, r.status, r.body)
		}
	}
}
