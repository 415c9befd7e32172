package fakehub_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// The knobs and counters added for segmented downloads (issue 14).

// TestCDNRangeGets counts CDN GETs with a Range header, honoured or not.
func TestCDNRangeGets(t *testing.T) {
	h, b := hubWithBlob(t, blobSources[0].add, pattern(10_000))
	send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest))
	send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), "Range", "bytes=100-")
	h.SetCDNRange(false)
	send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), "Range", "bytes=100-")
	send(t, http.DefaultClient, http.MethodHead, cdnURL(t, h, "library/blob", b.Digest), "Range", "bytes=100-")
	if c := h.Counters(); c.CDNGets != 3 || c.CDNRangeGets != 2 {
		t.Errorf("CDNGets %d, CDNRangeGets %d; want 3 and 2", c.CDNGets, c.CDNRangeGets)
	}
}

// TestCDNBytesByDigest counts body bytes per blob.
func TestCDNBytesByDigest(t *testing.T) {
	h, b := hubWithBlob(t, blobSources[1].add, pattern(10_000))
	other := h.AddBlob(pattern(3000))
	if c := h.Counters(); len(c.CDNBytesByDigest) != 0 {
		t.Errorf("before any GET: %v", c.CDNBytesByDigest)
	}
	send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest))
	send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), "Range", "bytes=9000-")
	send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", other.Digest), "Range", "bytes=0-99")
	c := h.Counters()
	if c.CDNBytesByDigest[b.Digest] != 11_000 || c.CDNBytesByDigest[other.Digest] != 100 || c.CDNBytes != 11_100 {
		t.Errorf("CDNBytesByDigest %v, CDNBytes %d", c.CDNBytesByDigest, c.CDNBytes)
	}
	c.CDNBytesByDigest[b.Digest] = 0 // a snapshot: the hub's map is not touched
	if h.Counters().CDNBytesByDigest[b.Digest] != 11_000 {
		t.Errorf("changing a snapshot changed the hub's counters")
	}
}

// TestConnections counts accepted connections per server: one for three
// requests over a kept-alive connection, three without keep-alive.
func TestConnections(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/alpine", "latest", []byte("layer"))
	urls := map[string]string{
		fakehub.ServerRegistry: h.URL() + "/v2/",
		fakehub.ServerAuth:     h.Realm() + "?service=" + fakehub.Service,
		fakehub.ServerCDN:      cdnURL(t, h, img.Repo, img.Layers[0].Digest),
	}
	for _, tc := range []struct {
		name      string
		keepAlive bool
		want      int64
	}{{"keep-alive", true, 1}, {"no keep-alive", false, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{DisableKeepAlives: !tc.keepAlive}
			t.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr}
			h.ResetCounters()
			for server, u := range urls {
				for range 3 {
					if r := send(t, c, http.MethodGet, u); r.status >= 500 {
						t.Fatalf("%s: %d", server, r.status)
					}
				}
			}
			got := h.Counters().Connections
			for server := range urls {
				if got[server] != tc.want {
					t.Errorf("%s: %d connections, want %d (%v)", server, got[server], tc.want, got)
				}
			}
		})
	}
}

// waitLogged waits until h has logged n requests.
func waitLogged(t *testing.T, h *fakehub.Hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(h.Requests()) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests logged, want %d", len(h.Requests()), n)
		}
	}
}

// TestLatency checks every server waits the latency before answering (a
// lower bound, so it cannot flake), logs the request first, and that Close
// ends the wait.
func TestLatency(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/alpine", "latest", []byte("layer"))
	loc := cdnURL(t, h, img.Repo, img.Layers[0].Digest)
	h.SetLatency(100 * time.Millisecond)
	for name, u := range map[string]string{
		"registry": h.URL() + "/v2/",
		"auth":     h.Realm() + "?service=" + fakehub.Service,
		"cdn":      loc,
	} {
		start := time.Now()
		r := send(t, http.DefaultClient, http.MethodGet, u)
		if took := time.Since(start); took < 100*time.Millisecond || r.status >= 500 {
			t.Errorf("%s: %d after %v, want an answer after at least 100ms", name, r.status, took)
		}
	}

	h2 := fakehub.New()
	t.Cleanup(h2.Close)
	h2.SetLatency(time.Hour)
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(h2.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitLogged(t, h2, 1) // logged before the wait
	h2.Close()
	await(t, done, "a request waiting for latency to end on Close")
}

// TestLatencyEndsWithClient checks a client that gives up ends the wait:
// the handler goes on (and counts its 401) without waiting the hour.
func TestLatencyEndsWithClient(t *testing.T) {
	h := newHub(t)
	h.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL()+"/v2/", nil)
	done := make(chan error, 1)
	go func() {
		_, err := http.DefaultClient.Do(req)
		done <- err
	}()
	waitLogged(t, h, 1)
	cancel()
	await(t, done, "the cancelled request")
	for deadline := time.Now().Add(10 * time.Second); h.Counters().Unauthorized == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the handler still waits after its client went away")
		}
	}
}

// TestOmitCDNLength checks blob answers go without Content-Length, whole
// and ranged, short and long, and get it back when turned off.
func TestOmitCDNLength(t *testing.T) {
	for _, src := range blobSources {
		for _, size := range []int{100, 100_000} {
			data := pattern(size)
			h, b := hubWithBlob(t, src.add, data)
			get := func(rng string) (*http.Response, []byte) {
				req, _ := http.NewRequest(http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), nil)
				if rng != "" {
					req.Header.Set("Range", rng)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, body
			}
			h.OmitCDNLength(true)
			for _, rangeOn := range []bool{true, false} {
				h.SetCDNRange(rangeOn)
				resp, body := get("")
				if resp.StatusCode != 200 || resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" || !bytes.Equal(body, data) {
					t.Errorf("%s %d bytes, range %v: %d, length %d, %d bytes", src.name, size, rangeOn, resp.StatusCode, resp.ContentLength, len(body))
				}
			}
			h.SetCDNRange(true)
			resp, body := get("bytes=10-")
			want := "bytes 10-" + strconv.Itoa(size-1) + "/" + strconv.Itoa(size)
			if resp.StatusCode != 206 || resp.ContentLength != -1 || resp.Header.Get("Content-Range") != want || !bytes.Equal(body, data[10:]) {
				t.Errorf("%s %d bytes, ranged: %d, length %d, %q, %d bytes", src.name, size, resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Range"), len(body))
			}
			h.OmitCDNLength(false)
			if resp, _ := get(""); resp.ContentLength != int64(size) {
				t.Errorf("%s %d bytes, after OmitCDNLength(false): length %d", src.name, size, resp.ContentLength)
			}
		}
	}
}

// TestIgnoreRange checks the set number of Range GETs from the set byte on
// answer 200 with the whole blob, and earlier ones 206.
func TestIgnoreRange(t *testing.T) {
	data := pattern(100_000)
	h, b := hubWithBlob(t, blobSources[1].add, data)
	h.IgnoreRange(1, 2)
	for i, g := range []struct {
		rng    string
		status int
		want   []byte
	}{
		{"bytes=0-999", 206, data[:1000]},
		{"bytes=1000-1999", 200, data},
		{"", 200, data},
		{"bytes=50000-", 200, data},
		{"bytes=60000-", 206, data[60000:]},
	} {
		var header []string
		if g.rng != "" {
			header = []string{"Range", g.rng}
		}
		r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), header...)
		if r.status != g.status || !bytes.Equal(r.body, g.want) {
			t.Errorf("GET %d (%q): %d, %d bytes; want %d, %d bytes", i, g.rng, r.status, len(r.body), g.status, len(g.want))
		}
	}
	if c := h.Counters(); c.CDNRangeGets != 4 {
		t.Errorf("CDNRangeGets %d, want 4", c.CDNRangeGets)
	}

	// A pause in an answer that ignored Range stops at its offset in the
	// blob, as it does without Range.
	h.IgnoreRange(1, 1)
	reached, release := h.PauseBlob(b.Digest, 40_000)
	prefix, rest, errs := pausedGet(cdnURL(t, h, "library/blob", b.Digest), "bytes=50000-", 40_000)
	select {
	case <-reached:
	case err := <-errs:
		t.Fatal(err)
	}
	if head := await(t, prefix, "bytes before the pause"); !bytes.Equal(head, data[:40_000]) {
		t.Fatalf("bytes before the pause differ")
	}
	release()
	if tail := await(t, rest, "rest of the body"); !bytes.Equal(tail, data[40_000:]) {
		t.Errorf("bytes after the pause differ")
	}
}

// TestCorruptBlob checks the CDN changes exactly the set byte, in whole and
// ranged answers, until turned off.
func TestCorruptBlob(t *testing.T) {
	data := pattern(100_000)
	for _, src := range blobSources {
		t.Run(src.name, func(t *testing.T) {
			h, b := hubWithBlob(t, src.add, data)
			h.CorruptBlob(b.Digest, 50_000)
			for _, g := range []struct {
				rng     string
				start   int64
				rangeOn bool
			}{
				{"", 0, true}, {"bytes=40000-", 40_000, true}, {"bytes=60000-", 60_000, true},
				{"bytes=49000-50999", 49_000, true}, {"bytes=40000-", 0, false},
			} {
				h.SetCDNRange(g.rangeOn)
				var header []string
				if g.rng != "" {
					header = []string{"Range", g.rng}
				}
				r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), header...)
				want := bytes.Clone(data[g.start : g.start+int64(len(r.body))])
				if i := 50_000 - g.start; i >= 0 && i < int64(len(want)) {
					want[i] ^= 0x01
				}
				if len(r.body) == 0 || !bytes.Equal(r.body, want) {
					t.Errorf("%q (range %v): %d bytes, not the blob with byte 50000 changed", g.rng, g.rangeOn, len(r.body))
				}
			}
			h.SetCDNRange(true)
			if r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest)); sha(r.body) == b.Digest {
				t.Errorf("a corrupt blob hashes to its digest")
			}
			h.CorruptBlob(b.Digest, -1)
			if r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest)); !bytes.Equal(r.body, data) {
				t.Errorf("after CorruptBlob(-1): other bytes")
			}
		})
	}
}
