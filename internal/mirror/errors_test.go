package mirror

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// A cached tag is served while upstream is down, failing or rate limiting,
// and the answer and the log say so.
func TestOfflineServesCachedTag(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*fakehub.Hub)
	}{
		{"unreachable", func(h *fakehub.Hub) { h.SetDown(true) }},
		{"503", func(h *fakehub.Hub) { h.SetStatus(http.StatusServiceUnavailable) }},
		{"429", func(h *fakehub.Hub) { h.SetTooManyRequests(true, 60) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub(t)
			img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
			tm := startMirror(t, hub)
			tm.pull(t, "alpine", img)

			tc.fault(hub)
			r := tm.pull(t, "alpine", img)
			if got := r.header.Get("X-Hubmirror-Cache"); got != "offline" {
				t.Errorf("X-Hubmirror-Cache %q, want offline", got)
			}
			if !strings.Contains(r.header.Get("Warning"), "upstream unavailable") {
				t.Errorf("no Warning header: %v", r.header)
			}
			if !strings.Contains(tm.logs.String(), "offline mode") {
				t.Errorf("the log does not say the tag was served offline")
			}
			if tm.Status().OfflineServes != 1 {
				t.Errorf("OfflineServes = %d", tm.Status().OfflineServes)
			}
		})
	}
}

// With nothing cached, upstream failures reach the client with the spec's
// codes and a message that names the upstream.
func TestUpstreamFailuresWithNothingCached(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	tm := startMirror(t, hub)
	manifest := "/v2/alpine/manifests/latest"

	hub.SetDown(true)
	r := tm.get(t, manifest)
	if r.status != http.StatusServiceUnavailable || errorCode(t, r) != codeUnavailable {
		t.Errorf("down: %d %s", r.status, r.body)
	}
	if !bytes.Contains(r.body, []byte("docker.io")) || !bytes.Contains(r.body, []byte(hub.Host())) {
		t.Errorf("down: message does not name the upstream: %s", r.body)
	}
	r = tm.get(t, "/v2/alpine/blobs/"+img.Layers[0].Digest)
	if r.status != http.StatusServiceUnavailable || errorCode(t, r) != codeUnavailable {
		t.Errorf("down, blob: %d %s", r.status, r.body)
	}
	hub.SetDown(false)

	hub.SetTooManyRequests(true, 42)
	r = tm.get(t, manifest)
	if r.status != http.StatusTooManyRequests || errorCode(t, r) != codeTooManyRequests {
		t.Errorf("429: %d %s", r.status, r.body)
	}
	if r.header.Get("Retry-After") != "42" {
		t.Errorf("429: Retry-After %q, want upstream's 42", r.header.Get("Retry-After"))
	}
	hub.SetTooManyRequests(false, 0)

	for _, tc := range []struct {
		path, code string
	}{
		{"/v2/alpine/manifests/nope", codeManifestUnknown},
		{"/v2/alpine/manifests/sha256:" + strings.Repeat("ab", 32), codeManifestUnknown},
		{"/v2/alpine/blobs/sha256:" + strings.Repeat("cd", 32), codeBlobUnknown},
		{"/v2/nobody/nothing/manifests/latest", codeNameUnknown},
	} {
		r := tm.get(t, tc.path)
		if r.status != http.StatusNotFound || errorCode(t, r) != tc.code {
			t.Errorf("GET %s: %d %s, want 404 %s", tc.path, r.status, r.body, tc.code)
		}
	}
	if tm.Status().CacheBytes != 0 {
		t.Errorf("errors left %d bytes in the cache", tm.Status().CacheBytes)
	}
}

// Malformed names, digests and references get 400 before anything goes
// upstream, and no path can reach outside the cache directory.
func TestMalformedRequestsAreRejected(t *testing.T) {
	hub := newHub(t)
	tm := startMirror(t, hub)
	zeros := strings.Repeat("0", 64)
	for _, tc := range []struct {
		path, code string
	}{
		{"/v2/../../etc/passwd/manifests/latest", codeNameInvalid},
		{"/v2/library/%2e%2e/%2e%2e/manifests/latest", codeNameInvalid},
		{"/v2/library/..%2f..%2fetc/blobs/sha256:" + zeros, codeNameInvalid},
		{"/v2/Library/Alpine/manifests/latest", codeNameInvalid},
		{"/v2/alpine/blobs/sha256:../../../../etc/passwd", codeDigestInvalid},
		{"/v2/alpine/blobs/sha256:abc", codeDigestInvalid},
		{"/v2/alpine/blobs/md5:" + zeros[:32], codeDigestInvalid},
		{"/v2/alpine/blobs/sha256:" + strings.ToUpper(zeros[:60]) + "ABCD", codeDigestInvalid},
		{"/v2/alpine/blobs/latest", codeDigestInvalid},
		{"/v2/alpine/manifests/sha256:xyz", codeDigestInvalid},
		{"/v2/alpine/manifests/..", "TAG_INVALID"},
		{"/v2/alpine/manifests/-latest", "TAG_INVALID"},
		{"/v2/alpine/manifests/" + strings.Repeat("t", 129), "TAG_INVALID"},
	} {
		r := tm.get(t, tc.path)
		if r.status != http.StatusBadRequest || errorCode(t, r) != tc.code {
			t.Errorf("GET %s: %d %s, want 400 %s", tc.path, r.status, r.body, tc.code)
		}
	}
	if n := len(hub.Requests()); n != 0 {
		t.Errorf("malformed requests caused %d upstream requests", n)
	}
}

// The mirror is read-only: every write answers 405 UNSUPPORTED.
func TestWritesAreUnsupported(t *testing.T) {
	hub := newHub(t)
	tm := startMirror(t, hub)
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/v2/alpine/blobs/uploads/"},
		{http.MethodPatch, "/v2/alpine/blobs/uploads/123"},
		{http.MethodPut, "/v2/alpine/manifests/latest"},
		{http.MethodDelete, "/v2/alpine/manifests/sha256:" + strings.Repeat("0", 64)},
		{http.MethodDelete, "/v2/alpine/blobs/sha256:" + strings.Repeat("0", 64)},
		{http.MethodGet, "/v2/alpine/blobs/uploads/123"},
	} {
		r := tm.do(t, tc.method, tc.path)
		if r.status != http.StatusMethodNotAllowed || errorCode(t, r) != codeUnsupported {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
}

// Content that does not match its digest is never cached or served whole.
func TestCorruptUpstreamBlobIsNotCached(t *testing.T) {
	hub := newHub(t)
	path := filepath.Join(t.TempDir(), "layer")
	good := pattern(300 << 10)
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	blob, err := hub.AddBlobFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hub.AddImageWithBlobs("library/bad", "1", blob)
	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 0xff // same size, one byte flipped
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	tm := startMirror(t, hub)

	for range 2 {
		resp, err := http.Get(tm.base + "/v2/library/bad/blobs/" + blob.Digest)
		if err != nil {
			t.Fatal(err)
		}
		body, rerr := readAll(resp)
		if rerr == nil && sha(body) != blob.Digest {
			t.Errorf("the client received a complete body with the wrong digest")
		}
		if rerr == nil && len(body) == len(good) {
			t.Errorf("a corrupt blob reached the client whole")
		}
	}
	if _, err := os.Stat(filepath.Join(tm.dir, "blobs", "sha256", blob.Digest[7:9], blob.Digest[7:])); err == nil {
		t.Errorf("the corrupt blob was cached")
	}
	if n := hub.Counters().BlobGetsByDigest[blob.Digest]; n != 2 {
		t.Errorf("%d upstream GETs; a failed download must not be remembered as cached", n)
	}
	if tm.Status().CacheBytes != 0 {
		t.Errorf("cache has %d bytes", tm.Status().CacheBytes)
	}
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.Bytes(), err
}

// tags/list is passed through from upstream.
func TestTagsListPassThrough(t *testing.T) {
	hub := newHub(t)
	hub.AddImage("library/alpine", "3.19", []byte("a"))
	hub.AddImage("library/alpine", "3.20", []byte("b"))
	tm := startMirror(t, hub)
	r := tm.get(t, "/v2/alpine/tags/list")
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"3.19"`)) || !bytes.Contains(r.body, []byte(`"3.20"`)) {
		t.Errorf("tags/list: %d %s", r.status, r.body)
	}
	r = tm.get(t, "/v2/alpine/tags/list?n=1")
	if r.status != http.StatusOK || bytes.Contains(r.body, []byte(`"3.20"`)) {
		t.Errorf("tags/list?n=1: %d %s", r.status, r.body)
	}
}

// The status says when an upstream fails, and stops saying it once the
// upstream answers again.
func TestUpstreamProblemInStatus(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("x"))
	tm := startMirror(t, hub)
	tm.pull(t, "alpine", img)
	if p := tm.Status().UpstreamProblem; p != "" {
		t.Fatalf("problem while all is well: %q", p)
	}
	for _, tc := range []struct {
		fault func()
		want  string
	}{
		{func() { hub.SetDown(true) }, "cannot be reached"},
		{func() { hub.SetTooManyRequests(true, 5) }, "rate limiting"},
		{func() { hub.SetStatus(http.StatusBadGateway) }, "answers 502"},
	} {
		tc.fault()
		tm.get(t, "/v2/alpine/manifests/latest")
		if p := tm.Status().UpstreamProblem; !strings.Contains(p, tc.want) || !strings.Contains(p, "docker.io") {
			t.Errorf("problem %q, want one mentioning %q", p, tc.want)
		}
		hub.SetDown(false)
		hub.SetTooManyRequests(false, 0)
		hub.SetStatus(0)
		tm.get(t, "/v2/alpine/manifests/latest")
		if p := tm.Status().UpstreamProblem; p != "" {
			t.Errorf("problem still shown after recovery: %q", p)
		}
	}
}
