package mirror

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/version"
)

// Tests for the engine bugs listed in issue 13 ("And bugs"), one per bug.

// Upstream sees the version that runs (package version), not a default
// the package started with: every request of a pull, to the registry, its
// token service and its CDN, carries it.
func TestUserAgentCarriesVersion(t *testing.T) {
	want := "hubmirror/" + version.String()
	if version.String() == "" || want == "hubmirror/0.1.0" {
		t.Fatalf("version %q: the test cannot tell it from the old default", version.String())
	}
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "3.20", pattern(2000))
	tm := startMirror(t, hub)
	tm.pull(t, "alpine", img)

	for _, problem := range hub.UserAgentProblems(want) {
		t.Error(problem)
	}
}

// With self_auth off nobody asks which digests belong to which repository,
// so pulls record no links; with it on they do, and never more than the cap.
func TestLinksOnlyWithSelfAuth(t *testing.T) {
	hub := newHub(t)
	var imgs []fakehub.Image
	for i := range 5 {
		imgs = append(imgs, hub.AddImage("library/img"+string(rune('a'+i)), "1", pattern(1000+i)))
	}
	off := startMirror(t, hub)
	for i, img := range imgs {
		off.pull(t, "img"+string(rune('a'+i)), img)
	}
	if n := off.links.len(); n != 0 {
		t.Errorf("self_auth off: %d links recorded after 5 pulls, want 0", n)
	}

	on := startAuthMirror(t, hub)
	for i, img := range imgs {
		name := "img" + string(rune('a'+i))
		_, token := on.login(t, "", "", name)
		if st := on.pullWith(t, token, name, img); st != http.StatusOK {
			t.Fatalf("self_auth on: pull %s: %d", name, st)
		}
	}
	if n := on.links.len(); n == 0 || n > on.links.max {
		t.Errorf("self_auth on: %d links, want between 1 and %d", n, on.links.max)
	}
}

// The link set forgets the least recently used links past its cap; a link
// looked up is used.
func TestLinkSetIsBounded(t *testing.T) {
	l := newLinkSet(3)
	d := func(i int) digest.Digest { return digest.FromBytes([]byte{byte(i)}) }
	for i := range 3 {
		l.add("docker.io", "library/a", d(i))
	}
	if !l.has("docker.io", "library/a", d(0)) { // 0 is now the most recent
		t.Fatal("link 0 missing before the cap was reached")
	}
	l.add("docker.io", "library/a", d(3))
	if !l.has("docker.io", "library/a", d(0)) || l.has("docker.io", "library/a", d(1)) {
		t.Error("past the cap, the link looked up last went instead of the least recently used")
	}
	for i := 4; i < 10; i++ {
		l.add("docker.io", "library/a", d(i))
		if n := l.len(); n > 3 {
			t.Fatalf("%d links after %d adds, cap 3", n, i+1)
		}
	}
	for i := range 7 {
		if l.has("docker.io", "library/a", d(i)) {
			t.Errorf("link %d kept, want only the 3 most recent", i)
		}
	}
	for i := 7; i < 10; i++ {
		if !l.has("docker.io", "library/a", d(i)) {
			t.Errorf("link %d forgotten, want it kept", i)
		}
	}
	l.add("docker.io", "library/a", d(9)) // again: no duplicate
	if n := l.len(); n != 3 {
		t.Errorf("%d links after re-adding one, want 3", n)
	}
	l.clear()
	if n := l.len(); n != 0 {
		t.Errorf("%d links after clear", n)
	}
}

// A manifest HEAD answered from upstream's headers has no Content-Length
// when upstream sent none, rather than a false "0".
func TestManifestHeadWithoutUpstreamLength(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "3.20", pattern(500))
	target, _ := url.Parse(hub.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodHead {
			resp.Header.Del("Content-Length")
			resp.ContentLength = -1
		}
		return nil
	}
	noLength := httptest.NewServer(rp)
	t.Cleanup(noLength.Close)
	tm := startMirrorCfg(t, hub, func(c *Config) { c.Upstreams = map[string]string{dockerHub: noLength.URL} })

	r := tm.do(t, http.MethodHead, "/v2/alpine/manifests/3.20", "Accept", fullAccept)
	if r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != img.Digest {
		t.Fatalf("HEAD: %d digest %q", r.status, r.header.Get("Docker-Content-Digest"))
	}
	if cl, ok := r.header["Content-Length"]; ok {
		t.Errorf("HEAD sent Content-Length %q although upstream sent none", cl)
	}
	// Once cached, the length is known and sent.
	tm.pull(t, "alpine", img)
	r = tm.do(t, http.MethodHead, "/v2/alpine/manifests/3.20", "Accept", fullAccept)
	if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(img.Manifest)) {
		t.Errorf("cached HEAD: Content-Length %q, want %d", got, len(img.Manifest))
	}
}

// specStatus is the HTTP status each error code goes out with, from the
// distribution spec's error codes (statuses as registries send them;
// TAG_INVALID from the Docker Registry HTTP API V2, NAME_UNKNOWN for paths
// that name nothing).
var specStatus = map[string]int{
	"BLOB_UNKNOWN": 404, "BLOB_UPLOAD_INVALID": 400, "BLOB_UPLOAD_UNKNOWN": 404,
	"DIGEST_INVALID": 400, "MANIFEST_BLOB_UNKNOWN": 404, "MANIFEST_INVALID": 400,
	"MANIFEST_UNKNOWN": 404, "NAME_INVALID": 400, "NAME_UNKNOWN": 404,
	"SIZE_INVALID": 400, "UNAUTHORIZED": 401, "DENIED": 403, "UNSUPPORTED": 405,
	"TOOMANYREQUESTS": 429, "TAG_INVALID": 400, "RANGE_INVALID": 416,
	"UNAVAILABLE": 503, "UNKNOWN": 500,
}

// Every error the mirror makes itself goes out with the one status bound
// to its code: UNSUPPORTED is always 405, TAG_INVALID always 400.
func TestErrorStatusFollowsCode(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", pattern(700))
	tm := startMirror(t, hub)
	zeros := strings.Repeat("0", 64)
	for _, tc := range []struct{ method, path, code string }{
		{http.MethodPut, "/v2/alpine/manifests/latest", codeUnsupported},
		{http.MethodGet, "/v2/alpine/blobs/uploads/1", codeUnsupported},
		{http.MethodGet, "/nope", codeNameUnknown},
		{http.MethodGet, "/v2/auth?service=hubmirror", ""}, // self_auth off
		{http.MethodGet, "/v2/alpine/manifests/-bad", "TAG_INVALID"},
		{http.MethodGet, "/v2/alpine/blobs/sha256:abc", codeDigestInvalid},
		{http.MethodGet, "/v2/Alpine/manifests/latest", codeNameInvalid},
		{http.MethodGet, "/v2/alpine", codeNameUnknown},
		{http.MethodGet, "/v2/registry.example.com/x/manifests/latest", codeNameUnknown},
		{http.MethodGet, "/v2/alpine/manifests/nope", codeManifestUnknown},
		{http.MethodGet, "/v2/alpine/blobs/sha256:" + zeros, codeBlobUnknown},
	} {
		r := tm.do(t, tc.method, tc.path)
		code := errorCode(t, r)
		if tc.code != "" && code != tc.code {
			t.Errorf("%s %s: code %s, want %s", tc.method, tc.path, code, tc.code)
		}
		if want, ok := specStatus[code]; !ok || r.status != want {
			t.Errorf("%s %s: %d %s, want %d for %s", tc.method, tc.path, r.status, code, want, code)
		}
	}
	tm.pull(t, "alpine", img)
	if r := tm.do(t, http.MethodGet, "/v2/alpine/blobs/"+img.Layers[0].Digest, "Range", "bytes=999999-"); r.status != specStatus[errorCode(t, r)] {
		t.Errorf("range outside the blob: %d %s", r.status, errorCode(t, r))
	}
}

// The table binds every code the mirror uses, TAG_INVALID included, to the
// spec's status.
func TestCodeStatusTable(t *testing.T) {
	for code, want := range specStatus {
		if got := statusOf(code); got != want {
			t.Errorf("%s: status %d, want %d", code, got, want)
		}
	}
	if got := newError(codeTagInvalid, "x").status(); got != http.StatusBadRequest {
		t.Errorf("TAG_INVALID: %d", got)
	}
	if got := statusOf("NOT_A_CODE"); got != http.StatusInternalServerError {
		t.Errorf("unknown code: %d, want 500", got)
	}
}

// Prefetch reports bytes as they arrive: while a large layer is held half
// way, progress has already seen part of it. So does the mirror's own
// prefetch (Mirror.PrefetchImage), which reads the download in-process.
func TestPrefetchProgressWithinBlob(t *testing.T) {
	for name, prefetch := range map[string]func(tm *testMirror, ref Ref, progress func(done, total int64)) error{
		"http": func(tm *testMirror, ref Ref, progress func(done, total int64)) error {
			_, err := Prefetch(context.Background(), http.DefaultClient, tm.base, ref, nil, "", progress)
			return err
		},
		"in-process": func(tm *testMirror, ref Ref, progress func(done, total int64)) error {
			_, err := tm.PrefetchImage(context.Background(), ref, nil, progress)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) { testPrefetchProgressWithinBlob(t, prefetch) })
	}
}

// testPrefetchProgressWithinBlob is TestPrefetchProgressWithinBlob with
// one way to prefetch.
func testPrefetchProgressWithinBlob(t *testing.T, prefetch func(tm *testMirror, ref Ref, progress func(done, total int64)) error) {
	hub := newHub(t)
	const size = 4 << 20
	img := hub.AddImage("library/big", "1", pattern(size))
	layer := img.Layers[0]
	reached, release := hub.PauseBlob(layer.Digest, size/2)
	t.Cleanup(release)
	tm := startMirror(t, hub)

	var mu sync.Mutex
	var calls [][2]int64
	during := make(chan [2]int64, 1)
	progress := func(done, total int64) {
		mu.Lock()
		calls = append(calls, [2]int64{done, total})
		mu.Unlock()
		if done > img.Config.Size && done < total {
			select {
			case during <- [2]int64{done, total}:
			default:
			}
		}
	}
	ref, err := ParseRef("big:1")
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() { result <- prefetch(tm, ref, progress) }()
	await(t, reached, "the layer's download to reach half way")
	select {
	case v := <-during:
		if v[0] > img.Config.Size+size/2 {
			t.Errorf("progress %d before the layer's second half arrived", v[0])
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no progress within the layer while it was held half way")
	}
	release()
	if err := await(t, result, "the prefetch"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	last := calls[len(calls)-1]
	if want := img.Config.Size + size; last[0] != want || last[1] != want {
		t.Errorf("last progress %v, want %d of %d", last, want, want)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] < calls[i-1][0] {
			t.Errorf("progress went back: %v after %v", calls[i], calls[i-1])
		}
	}
}
