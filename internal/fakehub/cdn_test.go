package fakehub_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// blobSources add the same bytes to a hub in memory or as a file, so CDN
// tests cover both ways of serving.
var blobSources = []struct {
	name string
	add  func(t *testing.T, h *fakehub.Hub, data []byte) fakehub.Blob
}{
	{"memory", func(_ *testing.T, h *fakehub.Hub, data []byte) fakehub.Blob { return h.AddBlob(data) }},
	{"file", func(t *testing.T, h *fakehub.Hub, data []byte) fakehub.Blob {
		path := filepath.Join(t.TempDir(), "blob")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := h.AddBlobFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}},
}

// hubWithBlob starts a hub holding data as a blob of library/blob.
func hubWithBlob(t *testing.T, add func(*testing.T, *fakehub.Hub, []byte) fakehub.Blob, data []byte) (*fakehub.Hub, fakehub.Blob) {
	t.Helper()
	h := newHub(t)
	b := add(t, h, data)
	h.AddImageWithBlobs("library/blob", "latest", b)
	return h, b
}

// TestCDNAccess checks the CDN serves only URLs the registry signed, and
// only to requests without Authorization.
func TestCDNAccess(t *testing.T) {
	tests := []struct {
		name       string
		do         func(t *testing.T, h *fakehub.Hub, b, other fakehub.Blob) reply
		wantStatus int
		wantCode   string // S3 error code
		want       func(c fakehub.Counters) bool
	}{{
		name: "plain GET",
		do: func(t *testing.T, h *fakehub.Hub, b, _ fakehub.Blob) reply {
			return send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest))
		},
		wantStatus: 200,
		want:       func(c fakehub.Counters) bool { return c.CDNGets == 1 && c.CDNAuthRejected == 0 },
	}, {
		name: "bearer Authorization",
		do: func(t *testing.T, h *fakehub.Hub, b, _ fakehub.Blob) reply {
			return send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), "Authorization", bearer(t, h, "library/blob"))
		},
		wantStatus: 400, wantCode: "InvalidArgument",
		want: func(c fakehub.Counters) bool { return c.CDNGets == 0 && c.CDNAuthRejected == 1 },
	}, {
		// Go's client keeps Authorization on a redirect to the same host on
		// another port: a mirror must not let it follow blob redirects.
		name: "client following the redirect",
		do: func(t *testing.T, h *fakehub.Hub, b, _ fakehub.Blob) reply {
			return send(t, http.DefaultClient, http.MethodGet, blobURL(h, "library/blob", b.Digest), "Authorization", bearer(t, h, "library/blob"))
		},
		wantStatus: 400, wantCode: "InvalidArgument",
		want: func(c fakehub.Counters) bool { return c.BlobGets == 1 && c.CDNAuthRejected == 1 },
	}, {
		name: "forged signature",
		do: func(t *testing.T, h *fakehub.Hub, b, _ fakehub.Blob) reply {
			u := cdnURL(t, h, "library/blob", b.Digest)
			return send(t, http.DefaultClient, http.MethodGet, u[:strings.Index(u, "signature=")]+"signature=forged")
		},
		wantStatus: 403, wantCode: "AccessDenied",
		want: func(c fakehub.Counters) bool { return c.CDNGets == 0 && c.CDNForbidden == 1 },
	}, {
		name: "signature of another blob",
		do: func(t *testing.T, h *fakehub.Hub, b, other fakehub.Blob) reply {
			u := cdnURL(t, h, "library/blob", other.Digest)
			return send(t, http.DefaultClient, http.MethodGet, strings.Replace(u, other.Digest, b.Digest, 1))
		},
		wantStatus: 403, wantCode: "AccessDenied",
		want: func(c fakehub.Counters) bool { return c.CDNForbidden == 1 },
	}, {
		name: "expired URL",
		do: func(t *testing.T, h *fakehub.Hub, b, _ fakehub.Blob) reply {
			u := cdnURL(t, h, "library/blob", b.Digest)
			h.Advance(fakehub.CDNURLTTL)
			return send(t, http.DefaultClient, http.MethodGet, u)
		},
		wantStatus: 403, wantCode: "AccessDenied",
		want: func(c fakehub.Counters) bool { return c.CDNForbidden == 1 },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, b := hubWithBlob(t, blobSources[0].add, []byte("blob bytes"))
			other := h.AddBlob([]byte("other"))
			r := tc.do(t, h, b, other)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if tc.wantCode != "" && (!bytes.Contains(r.body, []byte("<Code>"+tc.wantCode+"</Code>")) || r.header.Get("Content-Type") != "application/xml") {
				t.Errorf("body %q (%s), want S3 error %s", r.body, r.header.Get("Content-Type"), tc.wantCode)
			}
			if tc.wantStatus == http.StatusOK && sha(r.body) != b.Digest {
				t.Errorf("body hashes to %s, want %s", sha(r.body), b.Digest)
			}
			if c := h.Counters(); !tc.want(c) {
				t.Errorf("counters = %+v", c)
			}
		})
	}
}

// TestRange checks Range requests get 206 with the right bytes, and the
// whole blob when SetCDNRange(false).
func TestRange(t *testing.T) {
	data := pattern(100_000)
	tests := []struct {
		name, rng   string
		rangeOff    bool
		wantStatus  int
		wantBody    []byte
		wantContent string
	}{
		{name: "no range", wantStatus: 200, wantBody: data},
		{name: "middle", rng: "bytes=10-19", wantStatus: 206, wantBody: data[10:20], wantContent: "bytes 10-19/100000"},
		{name: "resume", rng: "bytes=60000-", wantStatus: 206, wantBody: data[60000:], wantContent: "bytes 60000-99999/100000"},
		{name: "suffix", rng: "bytes=-5", wantStatus: 206, wantBody: data[99995:], wantContent: "bytes 99995-99999/100000"},
		{name: "range off", rng: "bytes=60000-", rangeOff: true, wantStatus: 200, wantBody: data},
	}
	for _, src := range blobSources {
		for _, tc := range tests {
			t.Run(src.name+"/"+tc.name, func(t *testing.T) {
				h, b := hubWithBlob(t, src.add, data)
				h.SetCDNRange(!tc.rangeOff)
				var header []string
				if tc.rng != "" {
					header = []string{"Range", tc.rng}
				}
				r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), header...)
				if r.status != tc.wantStatus || !bytes.Equal(r.body, tc.wantBody) || r.header.Get("Content-Range") != tc.wantContent {
					t.Fatalf("status %d, %d bytes, Content-Range %q; want %d, %d bytes, %q",
						r.status, len(r.body), r.header.Get("Content-Range"), tc.wantStatus, len(tc.wantBody), tc.wantContent)
				}
				if r.header.Get("Content-Type") != "application/octet-stream" {
					t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
				}
				if c := h.Counters(); c.CDNBytes != int64(len(tc.wantBody)) {
					t.Errorf("CDNBytes = %d, want %d", c.CDNBytes, len(tc.wantBody))
				}
			})
		}
	}
}

// TestDropBlobAfter checks cut bodies end in io.ErrUnexpectedEOF after the
// set number of bytes, for the set number of GETs.
func TestDropBlobAfter(t *testing.T) {
	data := pattern(100_000)
	for _, src := range blobSources {
		t.Run(src.name, func(t *testing.T) {
			h, b := hubWithBlob(t, src.add, data)
			h.DropBlobAfter(1000, 2)
			gets := []struct {
				rng     string
				want    []byte
				wantCut bool
			}{
				{"", data[:1000], true},
				{"bytes=50000-", data[50000:51000], true},
				{"", data, false},
			}
			for i, g := range gets {
				req, _ := http.NewRequest(http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), nil)
				if g.rng != "" {
					req.Header.Set("Range", g.rng)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if g.wantCut != errors.Is(err, io.ErrUnexpectedEOF) || (!g.wantCut && err != nil) {
					t.Errorf("GET %d: error %v, want cut %v", i, err, g.wantCut)
				}
				if !bytes.Equal(body, g.want) {
					t.Errorf("GET %d: got %d bytes, want %d", i, len(body), len(g.want))
				}
				if g.wantCut && resp.ContentLength == int64(len(body)) {
					t.Errorf("GET %d: Content-Length %d is not the full length", i, resp.ContentLength)
				}
			}
			if c := h.Counters(); c.CDNGets != 3 || c.CDNBytes != int64(2000+len(data)) {
				t.Errorf("counters = %+v", c)
			}
		})
	}
}

// pausedGet starts a GET of url in the background. It sends the first
// before bytes of the body on prefix as soon as they arrive, then the rest
// (or the error) on rest.
func pausedGet(url, rng string, before int) (prefix chan []byte, rest chan []byte, errs chan error) {
	prefix, rest, errs = make(chan []byte, 1), make(chan []byte, 1), make(chan error, 2)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errs <- err
			return
		}
		defer resp.Body.Close()
		head := make([]byte, before)
		if _, err := io.ReadFull(resp.Body, head); err != nil {
			errs <- err
			return
		}
		prefix <- head
		tail, err := io.ReadAll(resp.Body)
		if err != nil {
			errs <- err
			return
		}
		rest <- tail
	}()
	return prefix, rest, errs
}

// TestPauseBlob checks a paused GET delivers exactly the bytes before the
// pause offset and the rest only after release.
func TestPauseBlob(t *testing.T) {
	data := pattern(100_000)
	tests := []struct {
		name   string
		rng    string
		at     int64
		before int   // body bytes the client gets before release
		start  int64 // offset of the body in the blob
	}{
		{name: "at start", at: 0, before: 0},
		{name: "a few bytes in", at: 100, before: 100},
		{name: "midway", at: 40_000, before: 40_000},
		{name: "in a range", rng: "bytes=30000-", at: 40_000, before: 10_000, start: 30_000},
		{name: "before the range", rng: "bytes=50000-", at: 40_000, before: 0, start: 50_000},
	}
	for _, src := range blobSources {
		for _, tc := range tests {
			t.Run(src.name+"/"+tc.name, func(t *testing.T) {
				h, b := hubWithBlob(t, src.add, data)
				reached, release := h.PauseBlob(b.Digest, tc.at)
				prefix, rest, errs := pausedGet(cdnURL(t, h, "library/blob", b.Digest), tc.rng, tc.before)
				select {
				case <-reached:
				case err := <-errs:
					t.Fatal(err)
				}
				head := await(t, prefix, "bytes before the pause")
				if !bytes.Equal(head, data[tc.start:tc.start+int64(tc.before)]) {
					t.Fatalf("bytes before the pause differ")
				}
				select {
				case <-rest:
					t.Fatal("body finished while paused")
				case err := <-errs:
					t.Fatal(err)
				default:
				}
				release()
				release() // idempotent
				tail := await(t, rest, "rest of the body")
				if !bytes.Equal(append(head, tail...), data[tc.start:]) {
					t.Errorf("body after release differs")
				}
			})
		}
	}
}

// TestCloseReleasesPause checks Close does not hang on a paused GET.
func TestCloseReleasesPause(t *testing.T) {
	h := fakehub.New()
	b := h.AddBlob(pattern(10_000))
	h.AddImageWithBlobs("library/blob", "latest", b)
	reached, _ := h.PauseBlob(b.Digest, 100)
	_, _, errs := pausedGet(cdnURL(t, h, "library/blob", b.Digest), "", 100)
	select {
	case <-reached:
	case err := <-errs:
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		h.Close()
		close(closed)
	}()
	await(t, closed, "Close")
}

// TestSwitches checks the registry-wide 429 and status switches and that
// turning them off restores service.
func TestSwitches(t *testing.T) {
	tests := []struct {
		name           string
		on, off        func(h *fakehub.Hub)
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		{"too many requests", func(h *fakehub.Hub) { h.SetTooManyRequests(true, 7) }, func(h *fakehub.Hub) { h.SetTooManyRequests(false, 0) }, 429, "TOOMANYREQUESTS", "7"},
		{"503", func(h *fakehub.Hub) { h.SetStatus(503) }, func(h *fakehub.Hub) { h.SetStatus(0) }, 503, "UNAVAILABLE", ""},
		{"500 over 429", func(h *fakehub.Hub) { h.SetStatus(500); h.SetTooManyRequests(true, 1) }, func(h *fakehub.Hub) { h.SetStatus(0); h.SetTooManyRequests(false, 0) }, 500, "UNAVAILABLE", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			img := h.AddImage("library/alpine", "latest", []byte("layer"))
			auth := bearer(t, h, img.Repo)
			urls := []string{h.URL() + "/v2/", manifestURL(h, img.Repo, "latest"), blobURL(h, img.Repo, img.Layers[0].Digest)}
			tc.on(h)
			for _, u := range urls {
				r := send(t, noRedirect, http.MethodGet, u, "Authorization", auth)
				if r.status != tc.wantStatus || errorCode(t, r) != tc.wantCode || r.header.Get("Retry-After") != tc.wantRetryAfter {
					t.Errorf("%s: %d %s, Retry-After %q", u, r.status, r.body, r.header.Get("Retry-After"))
				}
			}
			tc.off(h)
			for _, u := range urls {
				if r := send(t, noRedirect, http.MethodGet, u, "Authorization", auth); r.status >= 400 {
					t.Errorf("%s after switching off: %d", u, r.status)
				}
			}
		})
	}
}

// TestDown checks all three servers drop connections while down and answer
// again after.
func TestDown(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/alpine", "latest", []byte("layer"))
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	urls := map[string]string{
		"registry": h.URL() + "/v2/",
		"auth":     h.Realm() + "?service=" + fakehub.Service,
		"cdn":      cdnURL(t, h, img.Repo, img.Layers[0].Digest),
	}
	for name, u := range urls { // warm up keep-alive connections
		if r := send(t, client, http.MethodGet, u); r.status >= 500 {
			t.Fatalf("%s before SetDown: %d", name, r.status)
		}
	}
	h.SetDown(true)
	for name, u := range urls {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s while down: got %d, want a connection error", name, resp.StatusCode)
		}
	}
	h.SetDown(false)
	for name, u := range urls {
		if r := send(t, client, http.MethodGet, u); r.status >= 500 {
			t.Errorf("%s after SetDown(false): %d", name, r.status)
		}
	}
	if got := len(h.Requests()); got < 3*len(urls)+1 {
		t.Errorf("%d requests logged, want dropped ones too", got)
	}
}

// TestCDNBandwidth checks a bandwidth-limited body is whole and takes at
// least as long as the rate allows (a lower bound, so it cannot flake).
func TestCDNBandwidth(t *testing.T) {
	data := pattern(1 << 20)
	for _, src := range blobSources {
		t.Run(src.name, func(t *testing.T) {
			h, b := hubWithBlob(t, src.add, data)
			h.SetCDNBandwidth(4 << 20) // 4 MiB/s: 1 MiB takes 250 ms
			start := time.Now()
			r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest))
			if took := time.Since(start); took < 240*time.Millisecond {
				t.Errorf("1 MiB at 4 MiB/s took %v", took)
			}
			if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
				t.Fatalf("status %d, %d bytes", r.status, len(r.body))
			}
		})
	}
}
