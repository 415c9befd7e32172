package mirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// aheadEnds records the fetches ahead that ended, by digest.
type aheadEnds struct {
	mu    sync.Mutex
	n     map[digest.Digest]int
	moved chan struct{} // holds a value after an end nobody waited for yet
}

func (e *aheadEnds) ended(d digest.Digest) {
	e.mu.Lock()
	e.n[d]++
	e.mu.Unlock()
	select {
	case e.moved <- struct{}{}:
	default:
	}
}

// wait waits until a fetch ahead of each of blobs has ended at least k
// times since the mirror started.
func (e *aheadEnds) wait(t *testing.T, k int, blobs ...fakehub.Blob) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		var missing []string
		e.mu.Lock()
		for _, b := range blobs {
			if e.n[digest.Digest(b.Digest)] < k {
				missing = append(missing, b.Digest)
			}
		}
		e.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		select {
		case <-e.moved:
		case <-deadline:
			t.Fatalf("timed out waiting for the fetches ahead of %v", missing)
		}
	}
}

// aheadMirror is a test mirror that fetches workers blobs ahead.
type aheadMirror struct {
	*testMirror
	ends *aheadEnds
}

func startAhead(t *testing.T, hub *fakehub.Hub, workers int, change func(*Config)) *aheadMirror {
	t.Helper()
	ends := &aheadEnds{n: map[digest.Digest]int{}, moved: make(chan struct{}, 1)}
	tm := startPrepared(t, hub, func(c *Config) {
		c.PrefetchLayers = workers
		if change != nil {
			change(c)
		}
	}, func(m *Mirror) { m.aheadDone = ends.ended })
	return &aheadMirror{testMirror: tm, ends: ends}
}

// imageBlobs are an image's config and layers, in the manifest's order.
func imageBlobs(img fakehub.Image) []fakehub.Blob {
	return append([]fakehub.Blob{img.Config}, img.Layers...)
}

// distinctLayers returns n layers of about size bytes, each different.
func distinctLayers(n, size int) [][]byte {
	layers := make([][]byte, n)
	for i := range layers {
		layers[i] = append([]byte(fmt.Sprintf("layer %d of %d:", i, n)), pattern(size)...)
	}
	return layers
}

// checkEachFetchedOnce fails unless the CDN sent every blob exactly once.
func checkEachFetchedOnce(t *testing.T, hub *fakehub.Hub, blobs []fakehub.Blob) {
	t.Helper()
	c := hub.Counters()
	for _, b := range blobs {
		if got, bytes := c.BlobGetsByDigest[b.Digest], c.CDNBytesByDigest[b.Digest]; got != 1 || bytes != b.Size {
			t.Errorf("blob %s: %d CDN GETs, %d bytes; want 1 GET of %d bytes", b.Digest, got, bytes, b.Size)
		}
	}
}

// A client that pulls the manifest and then every blob, one at a time,
// joins the downloads fetched ahead: each blob comes from upstream once.
// Each layer's fetch ahead is held at the CDN at three quarters until the
// client has read a quarter from the mirror, so each of those GETs
// provably joined a running download. (The config is too small to tell:
// the mirror's response buffers hold a few KiB.)
func TestFetchAheadIsJoined(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/six", "latest", distinctLayers(6, 64<<10)...)
	blobs := imageBlobs(img)
	type held struct {
		reached <-chan struct{}
		release func()
	}
	pauses := map[string]held{}
	for _, l := range img.Layers {
		reached, release := hub.PauseBlob(l.Digest, l.Size*3/4)
		pauses[l.Digest] = held{reached, release}
		defer release()
	}
	tm := startAhead(t, hub, 3, nil)

	m := tm.get(t, "/v2/six/manifests/latest", "Accept", fullAccept)
	if m.status != http.StatusOK {
		t.Fatalf("manifest: %d %s", m.status, m.body)
	}
	if r := tm.get(t, "/v2/six/blobs/"+img.Config.Digest); r.status != http.StatusOK || sha(r.body) != img.Config.Digest {
		t.Fatalf("config: %d", r.status)
	}
	for _, l := range img.Layers {
		p := pauses[l.Digest]
		await(t, p.reached, "the fetch ahead of "+l.Digest)
		resp, err := http.Get(tm.base + "/v2/six/blobs/" + l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, l.Size/4)
		if _, err := io.ReadFull(resp.Body, first); err != nil {
			t.Fatalf("blob %s: first quarter: %v", l.Digest, err)
		}
		p.release()
		rest, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("blob %s: %d %v", l.Digest, resp.StatusCode, err)
		}
		if got := sha(append(first, rest...)); got != l.Digest {
			t.Fatalf("blob %s: body hashes to %s", l.Digest, got)
		}
	}
	checkEachFetchedOnce(t, hub, blobs)
	if t.Failed() {
		t.Log(tm.logs.String())
	}
	joined := tm.stats.aheadJoined.Load()
	if joined < int64(len(img.Layers)) || joined > int64(len(blobs)) {
		t.Errorf("%d GETs counted as joining a fetch ahead, want %d (the layers) or %d (and the config)", joined, len(img.Layers), len(blobs))
	}
	if got := tm.stats.aheadFetched.Load(); got != int64(len(blobs)) {
		t.Errorf("%d blobs counted as fetched ahead, want %d", got, len(blobs))
	}
	metrics := string(tm.get(t, "/metrics").body)
	for _, want := range []string{
		fmt.Sprintf("hubmirror_fetch_ahead_blobs_total %d\n", len(blobs)),
		fmt.Sprintf("hubmirror_fetch_ahead_joined_total %d\n", joined),
		"hubmirror_fetch_ahead_dropped_total 0\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// With PrefetchLayers 0 a manifest queues nothing: every blob is fetched
// when, and because, the client asks for it.
func TestFetchAheadOff(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", distinctLayers(3, 1000)...)
	tm := startAhead(t, hub, 0, nil)
	if m := tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept); m.status != http.StatusOK {
		t.Fatalf("manifest: %d", m.status)
	}
	if n := tm.stats.aheadQueued.Load(); n != 0 {
		t.Errorf("%d blobs queued to fetch ahead with PrefetchLayers 0", n)
	}
	if c := hub.Counters(); c.CDNGets != 0 {
		t.Errorf("%d CDN GETs before the client asked for a blob", c.CDNGets)
	}
	tm.pull(t, "alpine", img)
	checkEachFetchedOnce(t, hub, imageBlobs(img))
	if n := tm.stats.aheadFetched.Load(); n != 0 {
		t.Errorf("%d blobs fetched ahead with PrefetchLayers 0", n)
	}
}

// A HEAD of a manifest, even one the cache has whole, queues nothing; the
// GET that follows does.
func TestFetchAheadNotOnHead(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", distinctLayers(2, 1000)...)
	dir := t.TempDir()
	first := startAhead(t, hub, 0, func(c *Config) { c.CacheDir = dir })
	if m := first.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept); m.status != http.StatusOK {
		t.Fatalf("manifest: %d", m.status)
	}
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	tm := startAhead(t, hub, 3, func(c *Config) { c.CacheDir = dir })
	for _, ref := range []string{"latest", img.Digest} {
		r := tm.do(t, http.MethodHead, "/v2/alpine/manifests/"+ref, "Accept", fullAccept)
		if r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != "hit" {
			t.Fatalf("HEAD %s: %d cache=%q", ref, r.status, r.header.Get("X-Hubmirror-Cache"))
		}
	}
	if n := tm.stats.aheadQueued.Load(); n != 0 {
		t.Errorf("manifest HEADs queued %d blobs to fetch ahead", n)
	}
	if r := tm.get(t, "/v2/alpine/manifests/"+img.Digest, "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("GET by digest: %d", r.status)
	}
	if n, want := tm.stats.aheadQueued.Load(), int64(len(imageBlobs(img))); n != want {
		t.Errorf("a manifest GET from the cache queued %d blobs, want %d", n, want)
	}
	tm.ends.wait(t, 1, imageBlobs(img)...)
	checkEachFetchedOnce(t, hub, imageBlobs(img))
}

// An index queues nothing; the platform manifest the client then picks
// queues its own blobs and no other platform's.
func TestFetchAheadIndexOnlyChosenPlatform(t *testing.T) {
	hub := newHub(t)
	amd := hub.AddPlatformImage("library/multi", "", "linux/amd64", []byte("amd64 layer"))
	arm := hub.AddPlatformImage("library/multi", "", "linux/arm64", []byte("arm64 layer"))
	hub.AddIndex("library/multi", "latest", fakehub.MediaTypeOCIIndex, map[string]fakehub.Image{
		"linux/amd64": amd, "linux/arm64": arm,
	})
	tm := startAhead(t, hub, 3, nil)

	if r := tm.get(t, "/v2/multi/manifests/latest", "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("index: %d", r.status)
	}
	if n := tm.stats.aheadQueued.Load(); n != 0 {
		t.Errorf("an index queued %d blobs to fetch ahead", n)
	}
	if r := tm.get(t, "/v2/multi/manifests/"+arm.Digest, "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("arm64 manifest: %d", r.status)
	}
	if n, want := tm.stats.aheadQueued.Load(), int64(len(imageBlobs(arm))); n != want {
		t.Errorf("the platform manifest queued %d blobs, want %d", n, want)
	}
	tm.ends.wait(t, 1, imageBlobs(arm)...)
	checkEachFetchedOnce(t, hub, imageBlobs(arm))
	c := hub.Counters()
	for _, b := range imageBlobs(amd) {
		if c.BlobGetsByDigest[b.Digest] != 0 {
			t.Errorf("a blob of the platform nobody asked for was fetched: %s", b.Digest)
		}
	}
}

// Blobs already cached are not fetched again when a manifest names them
// again.
func TestFetchAheadSkipsCached(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", distinctLayers(3, 4000)...)
	tm := startAhead(t, hub, 3, nil)
	tm.pull(t, "alpine", img)
	tm.ends.wait(t, 1, imageBlobs(img)...)
	fetched := tm.stats.aheadFetched.Load()
	hub.ResetCounters()

	if r := tm.get(t, "/v2/alpine/manifests/"+img.Digest, "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("manifest again: %d", r.status)
	}
	tm.ends.wait(t, 2, imageBlobs(img)...)
	if c := hub.Counters(); c.CDNGets != 0 || c.BlobGets != 0 {
		t.Errorf("cached blobs fetched again: %d registry blob GETs, %d CDN GETs", c.BlobGets, c.CDNGets)
	}
	if got := tm.stats.aheadFetched.Load(); got != fetched {
		t.Errorf("%d more blobs counted as fetched ahead, want none", got-fetched)
	}
	tm.pull(t, "alpine", img)
	if c := hub.Counters(); c.CDNGets != 0 {
		t.Errorf("the second pull made %d CDN GETs", c.CDNGets)
	}
}

// With PrefetchLayers 1, one fetch ahead runs at a time: while the first
// (the config) is held at the CDN, the layers are not fetched ahead, so
// the client fetches each itself; once the config is let go, the worker
// finds the layers cached.
func TestFetchAheadBounded(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", distinctLayers(4, 4000)...)
	reached, release := hub.PauseBlob(img.Config.Digest, 1)
	defer release()
	tm := startAhead(t, hub, 1, nil)

	if r := tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("manifest: %d", r.status)
	}
	await(t, reached, "the fetch ahead of the config")
	for _, l := range img.Layers {
		r := tm.get(t, "/v2/alpine/blobs/"+l.Digest)
		if r.status != http.StatusOK || sha(r.body) != l.Digest {
			t.Fatalf("layer %s: %d", l.Digest, r.status)
		}
	}
	release()
	tm.ends.wait(t, 1, imageBlobs(img)...)
	checkEachFetchedOnce(t, hub, imageBlobs(img))
	tm.ahead.mu.Lock()
	peak := tm.ahead.peak
	tm.ahead.mu.Unlock()
	if peak != 1 {
		t.Errorf("%d fetches ahead ran at once, want at most 1", peak)
	}
	if got := tm.stats.aheadFetched.Load(); got != 1 {
		t.Errorf("%d blobs fetched ahead, want 1 (the config; the client fetched the layers)", got)
	}
}

// A fetch ahead nobody asks for runs to the end and is cached: the blob
// is then served without a byte from upstream, by this mirror and by the
// next one on the same cache directory.
func TestFetchAheadUnaskedIsCached(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", distinctLayers(2, 300<<10)...)
	dir := t.TempDir()
	tm := startAhead(t, hub, 3, func(c *Config) { c.CacheDir = dir })
	if r := tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("manifest: %d", r.status)
	}
	tm.ends.wait(t, 1, imageBlobs(img)...)
	checkEachFetchedOnce(t, hub, imageBlobs(img))
	hub.ResetCounters()
	getAll := func(tm *aheadMirror) {
		t.Helper()
		for _, b := range imageBlobs(img) {
			r := tm.get(t, "/v2/alpine/blobs/"+b.Digest)
			if r.status != http.StatusOK || sha(r.body) != b.Digest || r.header.Get("X-Hubmirror-Cache") != "hit" {
				t.Errorf("blob %s: %d cache=%q", b.Digest, r.status, r.header.Get("X-Hubmirror-Cache"))
			}
		}
	}
	getAll(tm)
	if err := tm.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	getAll(startAhead(t, hub, 0, func(c *Config) { c.CacheDir = dir }))
	if c := hub.Counters(); c.CDNBytes != 0 || c.BlobGets != 0 {
		t.Errorf("blobs fetched ahead took %d registry blob GETs and %d CDN bytes to serve", c.BlobGets, c.CDNBytes)
	}
}

// Stop while blobs are being fetched ahead returns, and leaves no worker
// or download behind.
func TestFetchAheadStop(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", distinctLayers(3, 64<<10)...)
	reached, release := hub.PauseBlob(img.Layers[0].Digest, 1000)
	defer release()
	tm := startAhead(t, hub, 2, nil)
	if r := tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("manifest: %d", r.status)
	}
	await(t, reached, "the fetch ahead of the first layer")
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- tm.Stop(ctx)
	}()
	if err := await(t, stopped, "Stop"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, fn := range []string{"(*fetchAhead).work", "(*download).run"} {
		if strings.Contains(stacks, fn) {
			t.Errorf("a goroutine in %s outlived Stop:\n%s", fn, stacks)
		}
	}
}

// Under self_auth a blob fetched ahead for one user, with her upstream
// token, is still refused to a user upstream does not let read the
// repository, and to an anonymous session, and costs upstream nothing
// more; she then reads it from the cache.
func TestFetchAheadSelfAuthNeverWidensAccess(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	hub.AddUser("bobby", "bobby-pw")
	secret := hub.AddImage("alice/secret", "v1", []byte("alice's private layer"), []byte("another private layer"))
	hub.SetPrivate("alice/secret", "alice")
	tm := startAhead(t, hub, 3, func(c *Config) { c.Access = Access{SelfAuth: true} })

	_, alice := tm.login(t, "alice", "alice-pw", "alice/secret")
	if r := tm.get(t, "/v2/alice/secret/manifests/v1", "Authorization", "Bearer "+alice, "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("alice's manifest: %d", r.status)
	}
	tm.ends.wait(t, 1, imageBlobs(secret)...)
	checkEachFetchedOnce(t, hub, imageBlobs(secret))
	if got := tm.stats.aheadFetched.Load(); got != int64(len(imageBlobs(secret))) {
		t.Fatalf("%d blobs fetched ahead for alice, want %d", got, len(imageBlobs(secret)))
	}
	cdn := hub.Counters().CDNGets

	_, bob := tm.login(t, "bobby", "bobby-pw", "alice/secret")
	_, anon := tm.login(t, "", "", "alice/secret")
	for who, tok := range map[string]string{"bobby": bob, "anonymous": anon} {
		for _, b := range imageBlobs(secret) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := tm.do(t, method, "/v2/alice/secret/blobs/"+b.Digest, "Authorization", "Bearer "+tok)
				if r.status == http.StatusOK || strings.Contains(string(r.body), "private layer") {
					t.Errorf("%s %s blob %s fetched ahead for alice: %d", who, method, b.Digest, r.status)
				}
			}
		}
	}
	for _, b := range imageBlobs(secret) {
		r := tm.get(t, "/v2/alice/secret/blobs/"+b.Digest, "Authorization", "Bearer "+alice)
		if r.status != http.StatusOK || sha(r.body) != b.Digest || r.header.Get("X-Hubmirror-Cache") != "hit" {
			t.Errorf("alice's blob %s: %d cache=%q", b.Digest, r.status, r.header.Get("X-Hubmirror-Cache"))
		}
	}
	if got := hub.Counters().CDNGets; got != cdn {
		t.Errorf("%d more CDN GETs after the fetch ahead", got-cdn)
	}
}

// A digest is queued once however many manifests name it, and a full
// queue drops (and counts) what does not fit instead of blocking the
// manifest request.
func TestFetchAheadQueueDedupesAndDrops(t *testing.T) {
	st := newStats()
	a := &fetchAhead{ctx: context.Background(), stats: st, log: slog.New(slog.DiscardHandler),
		queue: make(chan aheadJob, 2), pending: map[digest.Digest]bool{}}
	d := func(s string) digest.Digest { return digest.FromString(s) }
	for _, s := range []string{"a", "b", "a", "b", "c", "a"} {
		a.enqueue(aheadJob{digest: d(s), repo: "library/alpine"})
	}
	if q, dr := st.aheadQueued.Load(), st.aheadDropped.Load(); q != 2 || dr != 1 {
		t.Errorf("%d queued and %d dropped, want 2 (a, b) and 1 (c)", q, dr)
	}
	if j := <-a.queue; j.digest != d("a") {
		t.Errorf("first job %s, want a's", j.digest)
	}
}
