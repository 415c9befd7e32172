package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/oci"
)

// blobChunk is the range size of these tests.
const blobChunk = 64 << 10

// pattern returns n bytes that are not all alike.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// cdnFaults stands between the client and the fake hub's CDN: it answers
// the next CDN requests itself with the statuses queued (0: a connection
// that fails), then passes them on again.
type cdnFaults struct {
	next    http.RoundTripper
	cdnHost string

	mu     sync.Mutex
	queued []int
}

func (f *cdnFaults) fail(statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued = append(f.queued, statuses...)
}

func (f *cdnFaults) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fault := -1
	if req.URL.Host == f.cdnHost && len(f.queued) > 0 {
		fault, f.queued = f.queued[0], f.queued[1:]
	}
	f.mu.Unlock()
	switch fault {
	case -1:
		return f.next.RoundTrip(req)
	case 0:
		return nil, errors.New("test: connection reset")
	}
	return &http.Response{
		StatusCode: fault, Status: fmt.Sprint(fault), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: req,
	}, nil
}

// blobHub is a fake hub with one blob of n bytes in library/big, and a
// client of it whose CDN requests can be made to fail.
func blobHub(t *testing.T, n int) (*fakehub.Hub, *Client, *cdnFaults, []byte, digest.Digest) {
	t.Helper()
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	data := pattern(n)
	img := hub.AddImage("library/big", "1", data)
	faults := &cdnFaults{next: http.DefaultTransport.(*http.Transport).Clone(), cdnHost: strings.TrimPrefix(hub.CDN.URL, "http://")}
	c, err := New("docker.io", hub.URL(), Options{HTTP: NewHTTPClient(faults)})
	if err != nil {
		t.Fatal(err)
	}
	return hub, c, faults, data, digest.Digest(img.Layers[0].Digest)
}

// readRange opens bytes [from, end) of b and checks that they are data's.
func readRange(t *testing.T, b *Blob, data []byte, from, end int64) {
	t.Helper()
	body, err := b.Open(context.Background(), from, end)
	if err != nil {
		t.Fatalf("range %d-%d: %v", from, end, err)
	}
	defer body.Close()
	got, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("range %d-%d: read: %v", from, end, err)
	}
	if body.Start != from || body.End != end || body.Size != int64(len(data)) || !bytes.Equal(got, data[from:end]) {
		t.Fatalf("range %d-%d: bytes %d-%d of %d (%d read), want the range of %d", from, end, body.Start, body.End, body.Size, len(got), len(data))
	}
}

// The ranges of one download go through the registry once: its redirect
// (a signed CDN URL) is asked for the later ranges directly, without
// Authorization. Once the URL has expired, one range is refused and goes
// back to the registry for a fresh one, which the ranges after it use.
func TestBlobRangesReuseTheRedirect(t *testing.T) {
	const chunks = 8
	hub, c, _, data, d := blobHub(t, chunks*blobChunk)
	b := c.For(nil).Blob("library/big", d)
	for i := range int64(chunks / 2) {
		readRange(t, b, data, i*blobChunk, (i+1)*blobChunk)
	}
	if got := hub.Counters(); got.BlobGets != 1 || got.CDNRangeGets != chunks/2 {
		t.Errorf("%d ranges: %d registry blob GETs and %d CDN range GETs, want 1 and %d", chunks/2, got.BlobGets, got.CDNRangeGets, chunks/2)
	}

	hub.Advance(fakehub.CDNURLTTL + time.Minute) // the signed URL expired, and the token with it
	for i := int64(chunks / 2); i < chunks; i++ {
		readRange(t, b, data, i*blobChunk, (i+1)*blobChunk)
	}
	got := hub.Counters()
	if got.CDNForbidden != 1 || got.BlobGets != 2 || got.CDNRangeGets != chunks {
		t.Errorf("after the URL expired: %d refused, %d registry blob GETs, %d CDN range GETs; want 1, 2 and %d",
			got.CDNForbidden, got.BlobGets, got.CDNRangeGets, chunks)
	}
	if got.CDNAuthRejected != 0 {
		t.Errorf("%d CDN requests carried Authorization", got.CDNAuthRejected)
	}
	for _, r := range hub.Requests() {
		if r.Server == fakehub.ServerCDN && r.Authorization != "" {
			t.Errorf("CDN %s %s carried Authorization", r.Method, r.Path)
		}
	}
	sent := int64(0)
	for _, r := range hub.Requests() {
		if r.Server == fakehub.ServerCDN || (r.Server == fakehub.ServerRegistry && strings.Contains(r.Path, "/blobs/")) {
			sent++
		}
	}
	// A redirect the registry sent is followed as part of its request.
	if n := c.stats.Requests()["blob_get"]; n != sent-got.BlobGets {
		t.Errorf("%d blob GETs counted; %d were sent to the registry and the CDN, %d of them after a redirect", n, sent, got.BlobGets)
	}
}

// A redirect target that refuses a range (401, 403, 404, 410) or cannot be
// reached sends that range back to the registry once, and the fresh URL
// serves the ranges after it. Any other failure is the range's error and
// the URL stays.
func TestBlobRedirectRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int // 0: the connection fails
		again  bool
	}{
		{"401", http.StatusUnauthorized, true},
		{"403", http.StatusForbidden, true},
		{"404", http.StatusNotFound, true},
		{"410", http.StatusGone, true},
		{"connection", 0, true},
		{"500", http.StatusInternalServerError, false},
		{"400", http.StatusBadRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub, c, faults, data, d := blobHub(t, 4*blobChunk)
			b := c.For(nil).Blob("library/big", d)
			readRange(t, b, data, 0, blobChunk)
			faults.fail(tc.status)
			if tc.again {
				readRange(t, b, data, blobChunk, 2*blobChunk)
				if n := hub.Counters().BlobGets; n != 2 {
					t.Errorf("%d registry blob GETs, want 2: the refused range goes back once", n)
				}
			} else {
				_, err := b.Open(context.Background(), blobChunk, 2*blobChunk)
				if StatusOf(err) != tc.status {
					t.Fatalf("a CDN %d: %v, want that status's error", tc.status, err)
				}
				if n := hub.Counters().BlobGets; n != 1 {
					t.Errorf("%d registry blob GETs, want 1: a %d is not a refusal of the URL", n, tc.status)
				}
				readRange(t, b, data, blobChunk, 2*blobChunk)
			}
			readRange(t, b, data, 2*blobChunk, 3*blobChunk)
			readRange(t, b, data, 3*blobChunk, 4*blobChunk)
			want := int64(1)
			if tc.again {
				want = 2
			}
			if n := hub.Counters().BlobGets; n != want {
				t.Errorf("%d registry blob GETs in all, want %d: the ranges after use the URL", n, want)
			}
		})
	}
}

// A range the registry sent back refused from the fresh URL too is the
// range's error: it goes back to the registry once, not in a loop.
func TestBlobRefusedTwiceFails(t *testing.T) {
	hub, c, faults, data, d := blobHub(t, 2*blobChunk)
	b := c.For(nil).Blob("library/big", d)
	readRange(t, b, data, 0, blobChunk)
	faults.fail(http.StatusNotFound, http.StatusNotFound)
	if _, err := b.Open(context.Background(), blobChunk, 2*blobChunk); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("refused twice: %v, want ErrNotFound", err)
	}
	if n := hub.Counters().BlobGets; n != 2 {
		t.Errorf("%d registry blob GETs, want 2", n)
	}
	readRange(t, b, data, blobChunk, 2*blobChunk) // and the next asks the registry
	if n := hub.Counters().BlobGets; n != 3 {
		t.Errorf("%d registry blob GETs, want 3", n)
	}
}

// A registry that serves blobs from its own host, with the token, is
// asked for every range: only a redirect to another host, without
// Authorization, is kept.
func TestBlobServedByTheRegistryIsAskedEachTime(t *testing.T) {
	data := pattern(3 * blobChunk)
	d := digest.FromBytes(data)
	var gets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/library/big/blobs/" + string(d):
			gets.Add(1)
			http.Redirect(w, r, "/storage/"+string(d), http.StatusTemporaryRedirect)
		case "/storage/" + string(d):
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := New("registry.test", srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := c.For(nil).Blob("library/big", d)
	for i := range int64(3) {
		readRange(t, b, data, i*blobChunk, (i+1)*blobChunk)
	}
	if n := gets.Load(); n != 3 {
		t.Errorf("%d GETs for 3 ranges, want 3", n)
	}
}

// Content-Range and status in the terms of the blob: a 206 names its
// bytes, a 200 is the whole blob from byte 0, a 416 from the end is an
// empty body there.
func TestBlobBody(t *testing.T) {
	for _, tc := range []struct {
		status           int
		contentRange     string
		length           int64
		start, end, size int64
	}{
		{http.StatusOK, "", 100, 0, 0, 100},
		{http.StatusOK, "", -1, 0, 0, -1},
		{http.StatusPartialContent, "bytes 10-19/100", 10, 10, 20, 100},
		{http.StatusPartialContent, "bytes 10-19/*", 10, 10, 20, -1},
		{http.StatusPartialContent, "bytes 10-/100", -1, 10, 0, 100},
		{http.StatusPartialContent, "bytes 19-10/100", 10, 19, 0, 100},
		{http.StatusPartialContent, "items 1-2/3", 10, -1, 0, -1},
		{http.StatusPartialContent, "", 10, -1, 0, -1},
		{http.StatusRequestedRangeNotSatisfiable, "bytes */100", 0, 100, 0, 100},
		{http.StatusRequestedRangeNotSatisfiable, "", 0, -1, 0, -1},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, ContentLength: tc.length, Body: io.NopCloser(strings.NewReader(""))}
		if tc.contentRange != "" {
			resp.Header.Set("Content-Range", tc.contentRange)
		}
		b := blobBody(resp)
		if b.Start != tc.start || b.End != tc.end || b.Size != tc.size {
			t.Errorf("%d %q: start %d end %d size %d, want %d %d %d", tc.status, tc.contentRange, b.Start, b.End, b.Size, tc.start, tc.end, tc.size)
		}
	}
}
