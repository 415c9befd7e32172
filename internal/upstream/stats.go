package upstream

import (
	"maps"
	"sync"
	"sync/atomic"
)

// kind labels upstream requests in metrics.
type kind int

const (
	kindToken kind = iota
	kindManifestHead
	kindManifestGet
	kindBlobHead
	kindBlobGet
	kindTagsList
	kindProbe // GET /v2/ while a registry is degraded, to see it answer again
	numKinds
)

var kindNames = [numKinds]string{"token", "manifest_head", "manifest_get", "blob_head", "blob_get", "tags_list", "probe"}

func (k kind) String() string { return kindNames[k] }

// Stats are the figures of the clients that share them (a mirror's): the
// requests sent upstream, by kind, and the rate limit each registry said
// is left. The zero value is ready; it is safe for concurrent use.
type Stats struct {
	requests [numKinds]atomic.Int64

	mu       sync.Mutex
	rateLeft map[string]int64 // registry → last ratelimit-remaining
}

// count counts one request of kind k.
func (s *Stats) count(k kind) { s.requests[k].Add(1) }

// Requests returns the requests sent upstream so far by kind: token,
// manifest_head, manifest_get, blob_head, blob_get, tags_list and probe;
// every kind is there, 0 when none was sent. A request counts once with
// the redirects it follows; a blob range asked of the registry's CDN
// straight (Blob) is a blob_get of its own.
func (s *Stats) Requests() map[string]int64 {
	out := make(map[string]int64, numKinds)
	for k := range numKinds {
		out[k.String()] = s.requests[k].Load()
	}
	return out
}

// RateLimit returns the last ratelimit-remaining registry sent, and
// whether it sent one.
func (s *Stats) RateLimit(registry string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.rateLeft[registry]
	return n, ok
}

// RateLimits returns the last ratelimit-remaining of every registry that
// sent one.
func (s *Stats) RateLimits() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.rateLeft)
}

func (s *Stats) setRateLimit(registry string, n int64) {
	s.mu.Lock()
	if s.rateLeft == nil {
		s.rateLeft = map[string]int64{}
	}
	s.rateLeft[registry] = n
	s.mu.Unlock()
}
