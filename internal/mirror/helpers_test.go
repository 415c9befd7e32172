package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/store"
)

// fullAccept is what docker and containerd send for a manifest.
var fullAccept = defaultAccept

// testMirror is a running Mirror in front of a fake Docker Hub.
type testMirror struct {
	*Mirror
	hub  *fakehub.Hub
	base string // http://127.0.0.1:PORT
	dir  string // cache directory
	logs *syncBuffer
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startMirror starts a mirror on a free loopback port with docker.io sent
// to hub, and stops it when the test ends.
func startMirror(t *testing.T, hub *fakehub.Hub, opts ...Option) *testMirror {
	t.Helper()
	return startMirrorWith(t, hub, t.TempDir(), nil, opts...)
}

func startMirrorIn(t *testing.T, hub *fakehub.Hub, dir string) *testMirror {
	t.Helper()
	return startMirrorWith(t, hub, dir, nil)
}

// startMirrorCfg is startMirror with changes to the Config.
func startMirrorCfg(t *testing.T, hub *fakehub.Hub, change func(*Config), opts ...Option) *testMirror {
	t.Helper()
	return startMirrorWith(t, hub, t.TempDir(), change, opts...)
}

func startMirrorWith(t *testing.T, hub *fakehub.Hub, dir string, change func(*Config), opts ...Option) *testMirror {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		Listen:    "127.0.0.1:0",
		CacheDir:  dir,
		Upstreams: map[string]string{dockerHub: hub.URL()},
		Logger:    slog.New(slog.NewTextHandler(io.MultiWriter(logs, &audit.text), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&cfg)
	}
	m, err := New(cfg, append([]Option{fastResumes}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &testMirror{Mirror: m, hub: hub, base: "http://" + m.Addr(), dir: dir, logs: logs}
}

func newHub(t *testing.T) *fakehub.Hub {
	t.Helper()
	h := fakehub.New()
	t.Cleanup(h.Close)
	t.Cleanup(func() { audit.collect(h) }) // runs before Close
	return h
}

// audit gathers every log line and response body of every test, and every
// secret the fake hub saw (passwords, tokens, signed CDN URLs); TestMain
// then checks that no secret reached any of that text.
var audit = &auditLog{secrets: map[string]bool{}}

type auditLog struct {
	text    syncBuffer
	mu      sync.Mutex
	secrets map[string]bool
}

func addSecret(s string) {
	if len(s) < 6 {
		return
	}
	audit.mu.Lock()
	audit.secrets[s] = true
	audit.mu.Unlock()
}

// collect records the secrets h saw.
func (a *auditLog) collect(h *fakehub.Hub) {
	for _, r := range h.Requests() {
		scheme, v, _ := strings.Cut(r.Authorization, " ")
		switch scheme {
		case "Bearer":
			addSecret(v)
		case "Basic":
			if raw, err := base64.StdEncoding.DecodeString(v); err == nil {
				_, password, _ := strings.Cut(string(raw), ":")
				addSecret(password)
			}
		}
		if r.Server == fakehub.ServerCDN {
			if q, err := url.ParseQuery(r.RawQuery); err == nil {
				addSecret(q.Get("signature"))
			}
		}
	}
}

// checkAudit reports secrets found in the collected text.
func checkAudit() []string {
	text := audit.text.String()
	audit.mu.Lock()
	defer audit.mu.Unlock()
	var found []string
	for s := range audit.secrets {
		if strings.Contains(text, s) {
			found = append(found, s)
		}
	}
	if len(audit.secrets) == 0 || !strings.Contains(text, "msg=request") {
		found = append(found, "(the audit collected nothing: it would prove nothing)")
	}
	return found
}

// reply is a response read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// get sends a request to the mirror; header is name, value pairs.
func (tm *testMirror) do(t *testing.T, method, path string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, tm.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if !strings.Contains(path, "/blobs/") {
		fmt.Fprintf(&audit.text, "%s %s\n%s\n", resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Warning"), body)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func (tm *testMirror) get(t *testing.T, path string, header ...string) reply {
	t.Helper()
	return tm.do(t, http.MethodGet, path, header...)
}

// pull fetches an image the way a client does: manifest by tag, then the
// config and every layer, checking every digest. It returns the manifest reply.
func (tm *testMirror) pull(t *testing.T, name string, img fakehub.Image) reply {
	t.Helper()
	m := tm.get(t, "/v2/"+name+"/manifests/"+img.Tag, "Accept", fullAccept)
	if m.status != http.StatusOK {
		t.Fatalf("manifest %s:%s: %d %s", name, img.Tag, m.status, m.body)
	}
	if got := m.header.Get("Docker-Content-Digest"); got != img.Digest {
		t.Fatalf("manifest digest %s, want %s", got, img.Digest)
	}
	if !bytes.Equal(m.body, img.Manifest) {
		t.Fatalf("manifest bytes differ from upstream's")
	}
	for _, b := range append([]fakehub.Blob{img.Config}, img.Layers...) {
		r := tm.get(t, "/v2/"+name+"/blobs/"+b.Digest)
		if r.status != http.StatusOK {
			t.Fatalf("blob %s: %d %s", b.Digest, r.status, r.body)
		}
		if got := sha(r.body); got != b.Digest {
			t.Fatalf("blob %s: body hashes to %s", b.Digest, got)
		}
	}
	return m
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// errorCode returns the first OCI error code of a reply.
func errorCode(t *testing.T, r reply) string {
	t.Helper()
	var body struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("status %d: body %q is not OCI error JSON", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	return body.Errors[0].Code
}

// pattern returns n bytes that are not all alike.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// await receives from ch or fails the test after a generous deadline.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// withLookup has the upstream clients resolve the names of redirect
// targets with lookup instead of DNS.
func withLookup(lookup func(ctx context.Context, host string) ([]net.IPAddr, error)) Option {
	return func(m *Mirror) { m.upOpts.Lookup = lookup }
}

// withProbe has a degraded upstream probed first after first, then at most
// every most (the test often wakes the probe itself: ProbeNow).
func withProbe(first, most time.Duration) Option {
	return func(m *Mirror) { m.upOpts.Probe.First, m.upOpts.Probe.Max = first, most }
}

// withRevalidateTimeout sets how long a revalidation of a cached tag waits
// for upstream.
func withRevalidateTimeout(d time.Duration) Option {
	return func(m *Mirror) { m.revalidateTimeout = d }
}

// fastResumes is the download tuning of the test mirrors: resumes are
// what is tested, not the back-off.
var fastResumes = WithDownloadTuning(store.Tuning{
	StallTimeout: store.DefaultTuning().StallTimeout,
	MaxResumes:   store.DefaultTuning().MaxResumes,
	ResumeDelay:  10 * time.Millisecond,
})

func TestMain(m *testing.M) {
	code := m.Run()
	if found := checkAudit(); code == 0 && flag.Lookup("test.run").Value.String() == "" && len(found) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: secrets reached logs, error bodies or /metrics: %q\n", found)
		code = 1
	}
	os.Exit(code)
}
