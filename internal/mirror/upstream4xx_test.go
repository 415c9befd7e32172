package mirror

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// refusingTransport answers registry requests itself with an error status
// and OCI error body while a refusal is set, as a registry does that
// rejects a request; anything else goes to next.
type refusingTransport struct {
	next http.RoundTripper

	mu                  sync.Mutex
	status              int // 0: pass everything on
	code, message, path string
}

func (rt *refusingTransport) refuse(status int, code, message, pathPart string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.status, rt.code, rt.message, rt.path = status, code, message, pathPart
}

func (rt *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	status, code, message, part := rt.status, rt.code, rt.message, rt.path
	rt.mu.Unlock()
	if status == 0 || !strings.Contains(req.URL.Path, part) {
		return rt.next.RoundTrip(req)
	}
	body, _ := json.Marshal(map[string][]map[string]string{"errors": {{"code": code, "message": message}}})
	if req.Method == http.MethodHead {
		body = nil
	}
	return &http.Response{
		StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// An upstream 4xx that is not 401, 403, 404 or 429 reaches the client as
// that 4xx with OCI error JSON: not as 503, not served offline, not an
// upstream problem, and no reason to stop revalidating.
func TestUpstream4xxIsPassedOn(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	other := hub.AddImage("library/other", "1", []byte("other"))
	rt := &refusingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	tm := startMirrorCfg(t, hub, func(c *Config) { c.Transport = rt })
	tm.pull(t, "alpine", img)

	for _, tc := range []struct {
		name, path                  string
		status                      int
		upCode, upMessage, pathPart string
		wantCode, wantInMessage     string
	}{
		// A HEAD answer has no body: the code follows from the status.
		{"cached tag, HEAD 400", "/v2/alpine/manifests/latest", 400, "NAME_INVALID", "bad name", "/manifests/", codeUnknown, "answered 400"},
		{"cached tag, HEAD 405", "/v2/alpine/manifests/latest", 405, "", "", "/manifests/", codeUnsupported, "answered 405"},
		{"digest, spec code kept", "/v2/other/manifests/" + other.Digest, 400, "MANIFEST_INVALID", "upstream's own words", "/manifests/", codeManifestInvalid, "upstream's own words"},
		{"digest, unknown code", "/v2/other/manifests/" + other.Digest, 400, "NOT_A_SPEC_CODE", "odd", "/manifests/", codeUnknown, "odd"},
		{"digest, 422", "/v2/other/manifests/" + other.Digest, 422, "NAME_UNKNOWN", "no", "/manifests/", codeNameUnknown, "answered 422"},
		{"blob", "/v2/other/blobs/" + other.Layers[0].Digest, 400, "DIGEST_INVALID", "bad digest", "/blobs/", codeDigestInvalid, "bad digest"},
		{"tags list", "/v2/alpine/tags/list", 400, "", "", "/tags/list", codeUnknown, "answered 400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt.refuse(tc.status, tc.upCode, tc.upMessage, tc.pathPart)
			defer rt.refuse(0, "", "", "")
			r := tm.get(t, tc.path, "Accept", fullAccept)
			if r.status != tc.status || errorCode(t, r) != tc.wantCode {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tc.status, tc.wantCode)
			}
			if !bytes.Contains(r.body, []byte(tc.wantInMessage)) {
				t.Errorf("message %s does not say %q", r.body, tc.wantInMessage)
			}
			if r.header.Get("X-Hubmirror-Cache") == "offline" {
				t.Errorf("served offline")
			}
			if p := tm.Status().UpstreamProblem; p != "" {
				t.Errorf("upstream problem %q", p)
			}
		})
	}
	if n := tm.Status().OfflineServes; n != 0 {
		t.Errorf("%d offline serves", n)
	}
	heads := hub.Counters().ManifestHeads
	if r := tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept); r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != "hit" {
		t.Errorf("after the 4xx answers: %d cache=%q, want a revalidated hit", r.status, r.header.Get("X-Hubmirror-Cache"))
	}
	if n := hub.Counters().ManifestHeads - heads; n != 1 {
		t.Errorf("after the 4xx answers: %d HEADs upstream, want 1 (revalidation goes on)", n)
	}
}
