package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/version"
)

// The client speaks HTTP/2 to an upstream that offers it over TLS, with
// the production Transport's settings (its own DialContext included) and
// only the test server's certificate trusted on top.
func TestUpstreamUsesHTTP2(t *testing.T) {
	var proto atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int32(r.ProtoMajor))
		w.Header().Set("Content-Type", fakehub.MediaTypeDockerManifest)
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	tr := NewHTTPClient(nil).Transport.(*http.Transport).Clone()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := New("h2.test", srv.URL, Options{HTTP: NewHTTPClient(tr)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.For(nil).HeadManifest(context.Background(), "library/alpine", "latest", "")
	if err != nil {
		t.Fatal(err)
	}
	if proto.Load() != 2 || m.Digest == "" {
		t.Errorf("upstream request over HTTP/%d (digest %q), want HTTP/2", proto.Load(), m.Digest)
	}
}

// Every request of a pull, to the registry, its token service and its CDN,
// says it is hubmirror of the version that runs.
func TestUserAgentIsThisVersion(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := hub.AddImage("library/alpine", "3.20", pattern(2000))
	c, err := New("docker.io", hub.URL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := c.For(nil)
	if _, err := s.GetManifest(context.Background(), "library/alpine", "3.20", fakehub.MediaTypeDockerManifest); err != nil {
		t.Fatal(err)
	}
	b, err := s.OpenBlob(context.Background(), "library/alpine", digest.Digest(img.Layers[0].Digest), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, b)
	b.Close()
	want := "hubmirror/" + version.String()
	for _, problem := range hub.UserAgentProblems(want) {
		t.Error(problem)
	}
}

// Each status upstream answers with means one thing to callers: its
// sentinel, and for a refusal its code and message, kept apart.
func TestStatusError(t *testing.T) {
	c, err := New("docker.io", "https://registry.test", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status   int
		header   http.Header
		body     string
		sentinel error // nil: a refusal
		code     string
		inText   string
	}{
		{http.StatusNotFound, nil, "", oci.ErrNotFound, "", "manifest a:b"},
		{http.StatusUnauthorized, nil, "", oci.ErrDenied, "", "HTTP 401"},
		{http.StatusForbidden, nil, "", oci.ErrDenied, "", "HTTP 403"},
		{http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, "", oci.ErrTooManyRequests, "", "manifest a:b"},
		{http.StatusBadGateway, nil, "", oci.ErrUnreachable, "", "answered 502"},
		{http.StatusFound, nil, "", oci.ErrUnreachable, "", "answered 302"},
		{http.StatusProxyAuthRequired, nil, "", oci.ErrUnreachable, "", "answered 407"},
		{http.StatusRequestTimeout, nil, "", oci.ErrUnreachable, "", "answered 408"},
		{http.StatusBadRequest, nil, `{"errors":[{"code":"NAME_INVALID","message":"bad\nname"}]}`, nil, "NAME_INVALID", "answered 400: bad name"},
		{http.StatusMethodNotAllowed, nil, "not json", nil, "", "docker.io (https://registry.test) answered 405"},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: tc.header, Body: io.NopCloser(strings.NewReader(tc.body))}
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		err := c.statusError(resp, "manifest a:b")
		var se *StatusError
		if !errors.As(err, &se) || StatusOf(err) != tc.status {
			t.Errorf("%d: %v is no *StatusError of that status", tc.status, err)
			continue
		}
		for _, s := range []error{oci.ErrNotFound, oci.ErrDenied, oci.ErrTooManyRequests, oci.ErrUnreachable} {
			if errors.Is(err, s) != (s == tc.sentinel) {
				t.Errorf("%d: errors.Is(%v, %v) = %v", tc.status, err, s, !(s == tc.sentinel))
			}
		}
		if se.Refused() != (tc.sentinel == nil) || se.Code != tc.code || !strings.Contains(err.Error(), tc.inText) {
			t.Errorf("%d: refused %v, code %q, %q; want %v, %q, text with %q", tc.status, se.Refused(), se.Code, err, tc.sentinel == nil, tc.code, tc.inText)
		}
		if tc.status == http.StatusTooManyRequests && se.RetryAfter != "7" {
			t.Errorf("429: Retry-After %q, want 7", se.RetryAfter)
		}
	}
	if StatusOf(errors.New("no answer")) != 0 || StatusOf(nil) != 0 {
		t.Errorf("StatusOf of an error without an answer is not 0")
	}
}
