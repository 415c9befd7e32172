// Package fakehub is an in-process fake of Docker Hub for tests.
//
// A Hub runs three httptest servers on 127.0.0.1 that behave like Docker Hub
// seen as an upstream: Registry (like registry-1.docker.io), Auth (the token
// service, like auth.docker.io) and CDN (blob storage, like
// production.cloudflare.docker.com). The registry challenges for bearer
// tokens, redirects blob GETs to signed CDN URLs, sends rate-limit headers on
// manifests and negotiates manifest lists against Accept; the CDN rejects
// requests that carry an Authorization header, as S3-style backends do.
//
// Switches inject faults (429s, 5xx, unreachable servers, truncated or paused
// blob bodies) and counters record what was served, so a test can prove a
// mirror fetched something once. Every method is safe for concurrent use.
package fakehub

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Service is the service name the registry puts in its challenges and the
// token service expects in token requests.
const Service = "registry.fake.test"

// Names of the three servers, as recorded in Request.Server.
const (
	ServerRegistry = "registry"
	ServerAuth     = "auth"
	ServerCDN      = "cdn"
)

// Hub is a running fake Docker Hub. Create one with New and stop it with
// Close.
type Hub struct {
	// Registry serves the registry API (/v2/...).
	Registry *httptest.Server
	// Auth serves the token service at /token.
	Auth *httptest.Server
	// CDN serves blob bytes at the signed URLs the registry redirects to.
	CDN *httptest.Server

	// Now is the hub's clock, used for token expiry, issued_at and CDN URL
	// expiry; Advance moves it forward. New sets it to time.Now. A test may
	// replace it only before the first request reaches the hub.
	Now func() time.Time

	down      atomic.Bool
	latency   atomic.Int64 // nanoseconds every request waits; see SetLatency
	closed    chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	offset  time.Duration // added to Now by Advance
	content               // blobs, manifests and repositories
	auth                  // users, tokens and CDN signatures
	faults                // switches set by tests

	counters Counters
	requests []Request
}

// Counters is a snapshot of what the hub has served. Registry counters count
// requests that passed authorization; requests answered by a switch (SetStatus,
// SetTooManyRequests, SetDown) are only in the request log.
type Counters struct {
	// TokenRequests counts requests to the token service.
	TokenRequests int64
	// TokenFailures counts token requests that were refused (bad credentials,
	// wrong service).
	TokenFailures int64
	// ManifestGets counts authorized manifest GETs, including those answered
	// 404 or 429 because of the rate limit.
	ManifestGets int64
	// ManifestHeads counts authorized manifest HEADs.
	ManifestHeads int64
	// BlobGets counts registry blob GETs answered with a redirect to the CDN.
	BlobGets int64
	// BlobHeads counts authorized registry blob HEADs.
	BlobHeads int64
	// CDNGets counts CDN GETs that served a blob (200 or 206), including
	// those cut short by DropBlobAfter.
	CDNGets int64
	// CDNRangeGets counts the CDNGets that carried a Range header, whether
	// the CDN honoured it or not (SetCDNRange, IgnoreRange).
	CDNRangeGets int64
	// CDNBytes counts blob body bytes the CDN wrote.
	CDNBytes int64
	// CDNAuthRejected counts CDN requests refused for carrying Authorization.
	CDNAuthRejected int64
	// CDNForbidden counts CDN requests refused for a signature the hub did not
	// issue, issued for another blob, or expired.
	CDNForbidden int64
	// TagsLists counts authorized tags/list requests.
	TagsLists int64
	// Unauthorized counts 401 responses sent by the registry.
	Unauthorized int64
	// RateLimited counts manifest GETs refused because the rate limit was
	// used up.
	RateLimited int64
	// BlobGetsByDigest counts CDNGets per blob digest.
	BlobGetsByDigest map[string]int
	// CDNBytesByDigest counts CDNBytes per blob digest; nil until the CDN
	// has sent a byte.
	CDNBytesByDigest map[string]int64
	// Connections counts the TCP connections each server accepted, by
	// ServerRegistry, ServerAuth and ServerCDN; nil until one was.
	Connections map[string]int64
}

// newCounters returns zero counters.
func newCounters() Counters { return Counters{BlobGetsByDigest: map[string]int{}} }

// addTo adds n to (*m)[key], making the map when it is nil.
func addTo(m *map[string]int64, key string, n int64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[key] += n
}

// Request is one request seen by one of the hub's servers.
type Request struct {
	// Server is ServerRegistry, ServerAuth or ServerCDN.
	Server string
	// Method is the HTTP method.
	Method string
	// Path is the URL path.
	Path string
	// RawQuery is the URL query, without the '?'.
	RawQuery string
	// Authorization is the Authorization header as received, "" if absent.
	Authorization string
	// Header is a copy of all request headers.
	Header http.Header
}

// New starts a hub with no content, anonymous pulls allowed, a token TTL of
// 300 seconds and a rate limit of 100 manifest GETs.
func New() *Hub {
	h := &Hub{
		Now:     time.Now,
		closed:  make(chan struct{}),
		content: newContent(),
		auth:    newAuth(),
		faults:  newFaults(),
	}
	h.counters = newCounters()
	// Auth and CDN first: the registry's challenges and redirects name them.
	h.Auth = h.start(ServerAuth, h.serveToken)
	h.CDN = h.start(ServerCDN, h.serveCDN)
	h.Registry = h.start(ServerRegistry, h.serveRegistry)
	return h
}

// start starts one of the hub's servers, counting the connections it
// accepts.
func (h *Hub) start(server string, serve http.HandlerFunc) *httptest.Server {
	s := httptest.NewUnstartedServer(h.handler(server, serve))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			h.count(func(c *Counters) { addTo(&c.Connections, server, 1) })
		}
	}
	s.Start()
	return s
}

// Close releases every paused blob and shuts the three servers down. It is
// safe to call more than once.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		close(h.closed)
		h.Registry.Close()
		h.Auth.Close()
		h.CDN.Close()
	})
}

// URL returns the registry's base URL, like "http://127.0.0.1:PORT".
func (h *Hub) URL() string { return h.Registry.URL }

// Host returns the registry's host:port.
func (h *Hub) Host() string { return strings.TrimPrefix(h.Registry.URL, "http://") }

// Realm returns the token service URL the registry's challenges name.
func (h *Hub) Realm() string { return h.Auth.URL + "/token" }

// Counters returns a snapshot of the counters.
func (h *Hub) Counters() Counters {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.counters
	c.BlobGetsByDigest = maps.Clone(h.counters.BlobGetsByDigest)
	c.CDNBytesByDigest = maps.Clone(h.counters.CDNBytesByDigest)
	c.Connections = maps.Clone(h.counters.Connections)
	return c
}

// ResetCounters sets every counter to zero and empties the request log.
func (h *Hub) ResetCounters() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counters = newCounters()
	h.requests = nil
}

// Requests returns a copy of the log of every request the three servers have
// seen since New or the last ResetCounters, oldest first.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Request, len(h.requests))
	copy(out, h.requests)
	return out
}

// UserAgentProblems says what is wrong with the User-Agent of the
// requests the hub saw, one line each: a request that did not carry want,
// and a server of the three that saw no request at all (a check of the
// requests would prove less than it says). None when all is well.
func (h *Hub) UserAgentProblems(want string) []string {
	var problems []string
	seen := map[string]bool{}
	for _, r := range h.Requests() {
		seen[r.Server] = true
		if ua := r.Header.Get("User-Agent"); ua != want {
			problems = append(problems, fmt.Sprintf("%s %s %s: User-Agent %q, want %q", r.Server, r.Method, r.Path, ua, want))
		}
	}
	for _, s := range []string{ServerRegistry, ServerAuth, ServerCDN} {
		if !seen[s] {
			problems = append(problems, fmt.Sprintf("no request reached the hub's %s server: the check proves less than it says", s))
		}
	}
	return problems
}

// Advance moves the hub's clock forward by d.
func (h *Hub) Advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.offset += d
}

// now returns the hub's time. The caller holds h.mu.
func (h *Hub) now() time.Time { return h.Now().Add(h.offset) }

// count applies f to the counters under the lock.
func (h *Hub) count(f func(c *Counters)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.counters)
}

// handler wraps one server's handler: it logs the request, waits the
// latency SetLatency set, drops the connection when the hub is down and
// marks registry responses with the API version header.
func (h *Hub) handler(server string, serve http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.record(server, r)
		h.delay(r)
		if h.down.Load() {
			hangUp(w)
			return
		}
		if server == ServerRegistry {
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		}
		serve(w, r)
	})
}

// record appends r to the request log.
func (h *Hub) record(server string, r *http.Request) {
	req := Request{
		Server:        server,
		Method:        r.Method,
		Path:          r.URL.Path,
		RawQuery:      r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		Header:        r.Header.Clone(),
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, req)
}

// hangUp closes the connection without writing a response.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// SetLatency makes every request to the registry, the token service and the
// CDN wait d before it is answered (after it is logged), like an upstream
// far away; 0 (the default) answers at once. The wait ends early when the
// client goes away or the hub closes.
func (h *Hub) SetLatency(d time.Duration) { h.latency.Store(int64(max(d, 0))) }

// delay waits the latency SetLatency set.
func (h *Hub) delay(r *http.Request) {
	d := time.Duration(h.latency.Load())
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-h.closed:
	}
}
