package mirror

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// stats are the mirror's counters. They are safe for concurrent use. The
// request counters count clients' requests only: the mirror's own fetches
// (pinned images, prefetches) do not go through the listener (fetch.go),
// though what they download moves the store's and upstreams' figures.
type stats struct {
	// What clients asked for and were given.
	requests          atomic.Int64
	cacheHits         atomic.Int64
	cacheMisses       atomic.Int64
	offlineServes     atomic.Int64
	bytesFromCache    atomic.Int64
	bytesFromUpstream atomic.Int64

	// The state of the cache and the upstreams, whoever asked.
	store           store.Stats    // the blob store's own figures: downloads, bytes cached
	upstream        upstream.Stats // the upstream clients' own: requests, rate limits
	uncachedStreams atomic.Int64   // blobs streamed without keeping: the disk was full
	// Blobs fetched ahead (ahead.go): queued, downloaded, joined by a
	// client's GET while downloading, and not queued for a full queue.
	aheadQueued, aheadFetched, aheadJoined, aheadDropped atomic.Int64
	// storeOn is set while the cache has an object store behind it: only
	// then does /metrics write the store's families.
	storeOn atomic.Bool
	// storeRedirects are blob GETs answered with a redirect to the store
	// (store_redirect).
	storeRedirects atomic.Int64

	mu        sync.Mutex
	problems  map[string]string     // registry (or a local part) → what is wrong
	onProblem func(registry string) // a problem was noted for registry
	onChange  func()                // the problems changed
}

// diskProblem and keyringProblem key the problems that are not an
// upstream's.
const (
	diskProblem    = "\x00disk"
	keyringProblem = "\x00keyring"
)

func newStats() *stats { return &stats{} }

// SetProblem notes what is wrong with registry, or clears it with "":
// upstream.Problems, for the upstream clients.
func (s *stats) SetProblem(registry, problem string, replace bool) {
	s.setProblem(registry, problem, replace)
}

// setProblem notes problem under key (a registry, diskProblem or
// keyringProblem), or clears it with "". With replace false a problem
// already noted stays. A new problem of a registry is told to onProblem,
// which starts the probe that will clear it.
func (s *stats) setProblem(key, problem string, replace bool) {
	s.mu.Lock()
	old, had := s.problems[key]
	switch {
	case problem == "":
		delete(s.problems, key)
	case had && !replace:
		problem = old
	default:
		if s.problems == nil {
			s.problems = map[string]string{}
		}
		s.problems[key] = problem
	}
	onProblem, onChange := s.onProblem, s.onChange
	s.mu.Unlock()
	if problem != "" && onProblem != nil && key[0] != 0 {
		onProblem(key)
	}
	if problem != old && onChange != nil {
		onChange()
	}
}

// HasProblem reports whether a problem is noted for registry:
// upstream.Problems, for the upstream clients.
func (s *stats) HasProblem(registry string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.problems[registry]
	return ok
}

// streamedUncached counts a blob sent without being kept because the disk
// was full, and shows it as a problem until a blob is kept again.
func (s *stats) streamedUncached() {
	s.uncachedStreams.Add(1)
	s.setProblem(diskProblem, "The cache's disk is full: images still pull, straight from upstream, but are not kept. Free some space or lower cache_max.", true)
}

// blobKept notes that a blob was kept in the cache: the disk is not full.
func (s *stats) blobKept() {
	s.setProblem(diskProblem, "", true)
}

// problem returns the upstream problems, sorted, one line each.
func (s *stats) problem() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := make([]string, 0, len(s.problems))
	for _, p := range s.problems {
		lines = append(lines, p)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Counters is a snapshot of the mirror's figures since it started.
type Counters struct {
	Requests          int64            // client requests answered
	CacheHits         int64            // blobs and manifests served from the cache
	CacheMisses       int64            // blobs and manifests fetched from upstream
	OfflineServes     int64            // tags served from the cache because upstream failed
	BytesFromCache    int64            // blob bytes sent to clients from the cache
	BytesFromUpstream int64            // blob bytes sent to clients while being downloaded
	UpstreamBytes     int64            // blob bytes read from upstream
	DownloadsInFlight int64            // blob downloads running now
	CacheBytes        int64            // bytes of blobs and manifests on disk
	UpstreamRequests  map[string]int64 // upstream requests by kind
	// DockerHubPullsLeft is the last ratelimit-remaining Docker Hub sent,
	// or -1 before it sent one.
	DockerHubPullsLeft int64
	// UpstreamProblem says, for people, why requests to an upstream fail
	// right now (unreachable, 5xx, rate limited), or what else keeps the
	// mirror from working fully (the disk is full, the keyring cannot be
	// read), and what still works; "" when all is well.
	UpstreamProblem string
}

func (s *stats) snapshot() Counters {
	c := Counters{
		Requests:           s.requests.Load(),
		CacheHits:          s.cacheHits.Load(),
		CacheMisses:        s.cacheMisses.Load(),
		OfflineServes:      s.offlineServes.Load(),
		BytesFromCache:     s.bytesFromCache.Load(),
		BytesFromUpstream:  s.bytesFromUpstream.Load(),
		UpstreamBytes:      s.store.UpstreamBytes.Load(),
		DownloadsInFlight:  s.store.InFlight.Load(),
		CacheBytes:         s.store.CacheBytes.Load(),
		UpstreamRequests:   s.upstream.Requests(),
		DockerHubPullsLeft: -1,
	}
	if n, ok := s.upstream.RateLimit(dockerHub); ok {
		c.DockerHubPullsLeft = n
	}
	c.UpstreamProblem = s.problem()
	return c
}

// writePrometheus writes the counters in the Prometheus text format 0.0.4.
func (s *stats) writePrometheus(w io.Writer) {
	c := s.snapshot()
	metric := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("hubmirror_requests_total", "counter", "Client requests answered.")
	fmt.Fprintf(w, "hubmirror_requests_total %d\n", c.Requests)
	metric("hubmirror_cache_hits_total", "counter", "Blobs and manifests served from the cache.")
	fmt.Fprintf(w, "hubmirror_cache_hits_total %d\n", c.CacheHits)
	metric("hubmirror_cache_misses_total", "counter", "Blobs and manifests fetched from upstream.")
	fmt.Fprintf(w, "hubmirror_cache_misses_total %d\n", c.CacheMisses)
	metric("hubmirror_offline_serves_total", "counter", "Tags served from the cache because upstream failed.")
	fmt.Fprintf(w, "hubmirror_offline_serves_total %d\n", c.OfflineServes)
	metric("hubmirror_served_bytes_total", "counter", "Blob bytes sent to clients, by source.")
	fmt.Fprintf(w, "hubmirror_served_bytes_total{source=\"cache\"} %d\n", c.BytesFromCache)
	fmt.Fprintf(w, "hubmirror_served_bytes_total{source=\"upstream\"} %d\n", c.BytesFromUpstream)
	metric("hubmirror_upstream_bytes_total", "counter", "Blob bytes read from upstream registries.")
	fmt.Fprintf(w, "hubmirror_upstream_bytes_total %d\n", c.UpstreamBytes)
	metric("hubmirror_upstream_requests_total", "counter", "Requests sent to upstream registries, by kind.")
	kinds := make([]string, 0, len(c.UpstreamRequests))
	for k := range c.UpstreamRequests {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "hubmirror_upstream_requests_total{kind=%q} %d\n", k, c.UpstreamRequests[k])
	}
	metric("hubmirror_cache_damaged_blobs_total", "counter", "Cached blobs whose bytes no longer matched their digest; removed and fetched again.")
	fmt.Fprintf(w, "hubmirror_cache_damaged_blobs_total %d\n", s.store.DamagedBlobs.Load())
	metric("hubmirror_uncached_streams_total", "counter", "Blobs streamed to a client without being kept, because the cache's disk was full.")
	fmt.Fprintf(w, "hubmirror_uncached_streams_total %d\n", s.uncachedStreams.Load())
	metric("hubmirror_fetch_ahead_blobs_total", "counter", "Blobs downloaded ahead, after a client got the manifest that names them.")
	fmt.Fprintf(w, "hubmirror_fetch_ahead_blobs_total %d\n", s.aheadFetched.Load())
	metric("hubmirror_fetch_ahead_joined_total", "counter", "Client blob GETs served from a download fetched ahead while it ran.")
	fmt.Fprintf(w, "hubmirror_fetch_ahead_joined_total %d\n", s.aheadJoined.Load())
	metric("hubmirror_fetch_ahead_dropped_total", "counter", "Blobs not fetched ahead because the fetch-ahead queue was full.")
	fmt.Fprintf(w, "hubmirror_fetch_ahead_dropped_total %d\n", s.aheadDropped.Load())
	if s.storeOn.Load() {
		s.writeStoreMetrics(w, metric)
	}
	metric("hubmirror_downloads_in_flight", "gauge", "Blob downloads from upstream running now.")
	fmt.Fprintf(w, "hubmirror_downloads_in_flight %d\n", c.DownloadsInFlight)
	metric("hubmirror_cache_bytes", "gauge", "Bytes of blobs and manifests in the cache.")
	fmt.Fprintf(w, "hubmirror_cache_bytes %d\n", c.CacheBytes)
	metric("hubmirror_upstream_ratelimit_remaining", "gauge", "Last ratelimit-remaining an upstream sent.")
	left := s.upstream.RateLimits()
	regs := make([]string, 0, len(left))
	for r := range left {
		regs = append(regs, r)
	}
	sort.Strings(regs)
	for _, r := range regs {
		fmt.Fprintf(w, "hubmirror_upstream_ratelimit_remaining{registry=%q} %d\n", r, left[r])
	}
}

// writeStoreMetrics writes the counters of the object store behind the
// cache (store.Stats' Remote figures, and the redirects to it) with
// metric, which writes a family's HELP and TYPE lines.
func (s *stats) writeStoreMetrics(w io.Writer, metric func(name, typ, help string)) {
	st := &s.store
	for _, c := range []struct {
		name, help string
		v          int64
	}{
		{"hubmirror_store_blob_reads_total", "Blob downloads that came from the object store, not upstream.", st.RemoteHits.Load()},
		{"hubmirror_store_read_bytes_total", "Blob bytes read from the object store by downloads.", st.RemoteBytes.Load()},
		{"hubmirror_store_uploads_total", "Blobs from upstream, verified, uploaded to the object store.", st.RemoteUploads.Load()},
		{"hubmirror_store_upload_failures_total", "Blob uploads to the object store that failed; the blob stayed in the cache directory only.", st.RemoteUploadFailures.Load()},
		{"hubmirror_store_record_reads_total", "Manifests and tag records read from the object store because the cache directory lacked them.", st.RemoteRecordReads.Load()},
		{"hubmirror_store_record_writes_total", "Manifests and tag records written through to the object store.", st.RemoteRecordWrites.Load()},
		{"hubmirror_store_errors_total", "Other requests to the object store that failed; the mirror went on without it.", st.RemoteErrors.Load()},
		{"hubmirror_store_damaged_blobs_total", "Blobs in the object store that did not match their digest; refused and deleted.", st.RemoteDamaged.Load()},
		{"hubmirror_store_redirects_total", "Blob GETs answered with a redirect to a presigned URL of the object store (store_redirect).", s.storeRedirects.Load()},
		{"hubmirror_store_evicted_blobs_total", "Blobs this mirror deleted from the object store to keep it within store_max.", st.RemoteEvicted.Load()},
		{"hubmirror_store_evicted_bytes_total", "Bytes of the blobs this mirror deleted from the object store for store_max.", st.RemoteEvictedBytes.Load()},
		{"hubmirror_store_full_total", "Uploads skipped because the object store was full of blobs that may not be evicted (pinned, or used within the grace period).", st.RemoteFull.Load()},
		{"hubmirror_store_stamps_total", "Last-use stamps written on blobs in the object store.", st.RemoteStamps.Load()},
		{"hubmirror_store_stamps_dropped_total", "Last-use stamps not written: their queue was full, or the mirror stopped.", st.RemoteStampsDropped.Load()},
	} {
		metric(c.name, "counter", c.help)
		fmt.Fprintf(w, "%s %d\n", c.name, c.v)
	}
	metric("hubmirror_store_bytes", "gauge", "Bytes of blobs in the object store as this mirror last counted them (with store_max; 0 without).")
	fmt.Fprintf(w, "hubmirror_store_bytes %d\n", st.RemoteUsage.Load())
}
