package mirror

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// Tests of the mirror's own fetches (fetch.go): pins and Mirror.Prefetch
// run in-process, so the listener sees none of their requests.

// listenerRequests counts the requests the mirror's listener served: one
// "request" line each in its log (ServeHTTP).
func listenerRequests(tm *testMirror) int {
	return strings.Count(tm.logs.String(), "msg=request ")
}

// pinPass is one pass of keepPins, as the pinsDone hook saw it.
type pinPass struct {
	keep     []digest.Digest
	complete bool
}

// withPinPasses sends each pass of keepPins to ch.
func withPinPasses(ch chan<- pinPass) Option {
	return func(m *Mirror) {
		m.pinsDone = func(keep []digest.Digest, complete bool) { ch <- pinPass{keep, complete} }
	}
}

// imageDigests are the digests of an image: its manifest, config and
// layers.
func imageDigests(img fakehub.Image) []digest.Digest {
	ds := []digest.Digest{digest.Digest(img.Digest), digest.Digest(img.Config.Digest)}
	for _, l := range img.Layers {
		ds = append(ds, digest.Digest(l.Digest))
	}
	return ds
}

// Under self_auth, a pinned image is fetched without a single request to
// the mirror's listener (there is no token that would let one through),
// each of its blobs once from upstream however often the pins are
// refreshed, and its blobs are marked pinned: a pull that needs room evicts
// none of them.
func TestPinsFetchedInProcess(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/pinned", "1", pattern(60_000), pattern(40_001))
	passes := make(chan pinPass, 8)
	tm := startMirrorCfg(t, hub, func(c *Config) {
		c.Access.SelfAuth = true
		c.Pinned = []string{"pinned:1"}
		c.CacheMax = 150_000
	}, withPinPasses(passes))

	first := await(t, passes, "the first pass over the pins")
	if !first.complete {
		t.Fatalf("the pin was not fetched:\n%s", tm.logs)
	}
	for _, d := range imageDigests(img) {
		if !slices.Contains(first.keep, d) {
			t.Errorf("%s not marked pinned (marked: %v)", d, first.keep)
		}
	}
	tm.blobs.Wait() // a verified download is renamed into place just after
	for _, l := range append(img.Layers, img.Config) {
		if !cached(tm, l.Digest) {
			t.Errorf("pinned blob %s not cached", l.Digest)
		}
	}
	if n := listenerRequests(tm); n != 0 {
		t.Errorf("%d requests to the mirror's listener while the pin was fetched, want 0:\n%s", n, tm.logs)
	}

	tm.SetPins([]string{"docker.io/library/pinned:1"}) // the same image: fetched again, from the cache
	if second := await(t, passes, "the pass after SetPins"); !second.complete || len(second.keep) != len(first.keep) {
		t.Errorf("second pass: %+v, want %d digests, complete", second, len(first.keep))
	}
	c := hub.Counters()
	for _, l := range append(img.Layers, img.Config) {
		if n := c.BlobGetsByDigest[l.Digest]; n != 1 {
			t.Errorf("blob %s fetched %d times from upstream, want once", l.Digest, n)
		}
	}
	if c.ManifestGets != 1 {
		t.Errorf("%d manifest GETs upstream for two passes, want 1 (then HEADs)", c.ManifestGets)
	}
	if n := listenerRequests(tm); n != 0 {
		t.Errorf("%d requests to the mirror's listener after two passes, want 0", n)
	}

	// A client's pull that needs room: only unpinned blobs may go, and
	// there are none, so the pinned ones stay.
	other := hub.AddImage("library/other", "1", pattern(70_000))
	_, token := tm.login(t, "", "", "other")
	if st := tm.pullWith(t, token, "other", other); st != http.StatusOK {
		t.Fatalf("pull of another image: %d", st)
	}
	tm.blobs.Wait()
	for _, l := range append(img.Layers, img.Config) {
		if !cached(tm, l.Digest) {
			t.Errorf("pinned blob %s evicted", l.Digest)
		}
	}
}

// The mirror's own fetches carry no token, and no secret of the mirror
// passes self_auth: the cache API's key (the only one left of the
// listener's own) is refused on the registry API, with the same challenge
// a client without a token gets.
func TestNoInternalTokenPassesSelfAuth(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/pinned", "1", pattern(10_000))
	passes := make(chan pinPass, 8)
	tm := startMirrorCfg(t, hub, func(c *Config) {
		c.Access.SelfAuth = true
		c.Pinned = []string{"pinned:1"}
	}, withPinPasses(passes))
	if p := await(t, passes, "the pins fetched"); !p.complete {
		t.Fatalf("the pin was not fetched:\n%s", tm.logs)
	}
	// The cache API writes its key on a request without it.
	if r := tm.get(t, cacheAPIPrefix+"usage"); r.status != http.StatusUnauthorized {
		t.Fatalf("cache API without its key: %d", r.status)
	}
	raw, err := os.ReadFile(filepath.Join(tm.dir, cacheKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	if r := tm.get(t, cacheAPIPrefix+"usage", "Authorization", "Bearer "+key); r.status != http.StatusOK {
		t.Fatalf("cache API with its key: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/v2/", "/v2/pinned/manifests/1", "/v2/pinned/blobs/" + img.Layers[0].Digest} {
		r := tm.get(t, path, "Authorization", "Bearer "+key, "Accept", fullAccept)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "/v2/auth") {
			t.Errorf("%s with the cache API's key: %d %q, want 401 and a challenge", path, r.status, r.header.Get("WWW-Authenticate"))
		}
	}
}

// Mirror.PrefetchImage fetches the platforms asked for in-process: no
// request reaches the listener, each blob comes once from upstream, the
// result lists the index, the platform's manifest, config and layer, and
// progress reaches the total. Fetched again, it reads everything from the
// cache and reports the same bytes.
func TestPrefetchImageInProcess(t *testing.T) {
	hub := newHub(t)
	amd := hub.AddPlatformImage("library/multi", "", "linux/amd64", pattern(30_000))
	arm := hub.AddPlatformImage("library/multi", "", "linux/arm64", pattern(30_001), pattern(5_000))
	index := hub.AddIndex("library/multi", "1", fakehub.MediaTypeOCIIndex, map[string]fakehub.Image{"linux/amd64": amd, "linux/arm64": arm})
	tm := startMirrorCfg(t, hub, func(c *Config) { c.PrefetchLayers = 2 }) // two blobs at once
	ref, err := ParseRef("multi:1")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]digest.Digest{digest.Digest(index.Digest)}, imageDigests(arm)...)
	wantBytes := arm.Config.Size + arm.Layers[0].Size + arm.Layers[1].Size
	for _, pass := range []string{"first", "again"} {
		var mu sync.Mutex
		var last [2]int64
		res, err := tm.PrefetchImage(context.Background(), ref, []string{"linux/arm64"}, func(done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			if done < last[0] {
				t.Errorf("%s: progress went back from %d to %d", pass, last[0], done)
			}
			last = [2]int64{done, total}
		})
		if err != nil {
			t.Fatalf("%s: %v", pass, err)
		}
		slices.Sort(res.Digests)
		slices.Sort(want)
		if !slices.Equal(res.Digests, want) || res.Bytes != wantBytes {
			t.Errorf("%s: %v, %d bytes; want %v, %d bytes", pass, res.Digests, res.Bytes, want, wantBytes)
		}
		if last != [2]int64{wantBytes, wantBytes} {
			t.Errorf("%s: last progress %v, want %d of %d", pass, last, wantBytes, wantBytes)
		}
	}
	tm.blobs.Wait()
	for _, b := range append(arm.Layers, arm.Config) {
		if !cached(tm, b.Digest) || hub.Counters().BlobGetsByDigest[b.Digest] != 1 {
			t.Errorf("arm64 blob %s: cached %v, fetched %d times, want cached and once", b.Digest, cached(tm, b.Digest), hub.Counters().BlobGetsByDigest[b.Digest])
		}
	}
	if cached(tm, amd.Layers[0].Digest) {
		t.Errorf("the amd64 layer was fetched for --platform linux/arm64")
	}
	if n := listenerRequests(tm); n != 0 {
		t.Errorf("%d requests to the mirror's listener during the prefetch, want 0:\n%s", n, tm.logs)
	}
	if st := tm.Status(); st.Requests != 0 {
		t.Errorf("status counts %d client requests after a prefetch, want 0", st.Requests)
	}
}

// A prefetch of an image upstream does not have, or of a registry that is
// not mirrored, says which; a stopped mirror says it is not running.
func TestPrefetchImageErrors(t *testing.T) {
	hub := newHub(t)
	tm := startMirror(t, hub)
	for ref, want := range map[string]string{
		"nope:1":                    "nope",
		"registry.example.test/x:1": `registry "registry.example.test" is not mirrored here`,
	} {
		r, err := ParseRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tm.PrefetchImage(context.Background(), r, nil, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("prefetch %s: %v, want an error that says %q", ref, err, want)
		}
	}
	if err := tm.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tm.Prefetch(context.Background(), "alpine:3.20", nil); err != errNotRunning {
		t.Errorf("prefetch on a stopped mirror: %v, want %v", err, errNotRunning)
	}
}
