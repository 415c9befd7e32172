package mirror

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/store"
)

// Blobs fetched ahead (issue 14): when a client gets an image manifest, the
// mirror starts downloading the config and layers it names, a few at a
// time, so that the client's GETs for them, which come one after another,
// join downloads already running instead of each waiting for upstream's
// round trips and its bytes in turn. A fetch ahead goes through the same
// single-flight downloads as a client's GET (store.Blobs.Open), with the
// upstream access of the client whose manifest named the blob, and runs to
// the end even when no client asks: the blob is cached as a pull would have
// cached it, within cache_max.

// aheadQueueLen bounds the blobs waiting to be fetched ahead. A manifest
// that finds the queue full has the rest of its blobs left to its client's
// own GETs (logged at debug level, counted in /metrics).
const aheadQueueLen = 256

// aheadJob is one blob to fetch ahead.
type aheadJob struct {
	digest digest.Digest
	repo   string         // for the log
	open   store.OpenFunc // upstream, with the access of the client whose manifest named the blob
}

// fetchAhead downloads blobs that manifests named before clients ask for
// them: at most workers at once, each blob queued or running once. A nil
// *fetchAhead fetches nothing; its methods are safe for concurrent use.
type fetchAhead struct {
	ctx      context.Context // the listener's: ends when the mirror stops
	blobs    *store.Blobs
	stats    *stats
	log      *slog.Logger
	cacheMax int64
	// stored, with store_redirect, are the blobs the store holds: not
	// fetched ahead, since their clients are sent to the store for them.
	stored *store.StoreLinks
	queue  chan aheadJob
	wg     sync.WaitGroup // the workers
	// done, when not nil, is called when a job ends, whatever it did
	// (tests).
	done func(digest.Digest)

	mu sync.Mutex
	// pending holds every queued (false) and running (true) digest.
	pending map[digest.Digest]bool
	// busy and peak are how many jobs run now and at most ran at once.
	busy, peak int
}

// newFetchAhead starts workers that fetch ahead until ctx ends; nil when
// workers is 0 or less (nothing is fetched ahead). cacheMax is the cache's
// bound (0: none): an image larger than it is not fetched ahead, as its own
// blobs would evict each other before its client got them.
func newFetchAhead(ctx context.Context, workers int, blobs *store.Blobs, st *stats, log *slog.Logger, cacheMax int64, done func(digest.Digest)) *fetchAhead {
	if workers <= 0 {
		return nil
	}
	a := &fetchAhead{
		ctx: ctx, blobs: blobs, stats: st, log: log, cacheMax: cacheMax, done: done,
		queue: make(chan aheadJob, aheadQueueLen), pending: map[digest.Digest]bool{},
	}
	a.wg.Add(workers)
	for range workers {
		go a.work()
	}
	return a
}

// wait returns once every worker has ended, after ctx ended.
func (a *fetchAhead) wait() {
	if a != nil {
		a.wg.Wait()
	}
}

// fetchAheadOf queues the blobs of the image manifest a client was just
// given (a GET, from upstream or the cache) to be fetched ahead with the
// client's upstream access. Indexes and manifest lists name no blobs: the
// platform manifest the client picks next does. A manifest served offline
// queues nothing, as upstream is failing.
func (s *server) fetchAheadOf(rt *route, sess *session, a manifestAnswer) {
	if s.ahead == nil || a.Data == nil || a.source == sourceOffline || !isImageManifest(a.MediaType) {
		return
	}
	refs, err := oci.ManifestRefs(a.Data)
	if err != nil {
		return
	}
	if s.ahead.cacheMax > 0 {
		var total int64
		for _, b := range refs.Blobs {
			total += max(b.Size, 0)
		}
		if total > s.ahead.cacheMax {
			s.log.Debug("image larger than cache_max: not fetched ahead", "name", rt.repo, "digest", string(a.Digest), "bytes", total)
			return
		}
	}
	for _, d := range oci.Digests(refs.Blobs) {
		blob := &route{kind: "blob", registry: rt.registry, repo: rt.repo, digest: d, up: rt.up}
		s.ahead.enqueue(aheadJob{digest: d, repo: rt.repo, open: s.blobFetcher(blob, sess)})
	}
}

// isImageManifest reports whether mediaType is an OCI image manifest or a
// Docker schema2 manifest: the kinds that name a config and layers.
func isImageManifest(mediaType string) bool {
	t, _, _ := strings.Cut(mediaType, ";")
	switch strings.TrimSpace(t) {
	case v1.MediaTypeImageManifest, oci.MediaTypeDockerManifest:
		return true
	}
	return false
}

// enqueue queues j unless its digest is queued or running already, or the
// queue is full.
func (a *fetchAhead) enqueue(j aheadJob) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.pending[j.digest]; ok || a.ctx.Err() != nil {
		return
	}
	select {
	case a.queue <- j:
		a.pending[j.digest] = false
		a.stats.aheadQueued.Add(1)
	default:
		a.stats.aheadDropped.Add(1)
		a.log.Debug("fetch-ahead queue full: blob left to the client's own request", "name", j.repo, "digest", string(j.digest), "queued", aheadQueueLen)
	}
}

// skipStored makes a leave the blobs links says the store holds (set
// before the first manifest is served; nil links fetches them all).
func (a *fetchAhead) skipStored(links *store.StoreLinks) {
	if a != nil {
		a.stored = links
	}
}

// work runs queued jobs, one at a time, until ctx ends.
func (a *fetchAhead) work() {
	defer a.wg.Done()
	for {
		select {
		case <-a.ctx.Done():
			return
		case j := <-a.queue:
			a.start(j.digest)
			a.fetch(j)
			a.end(j.digest)
		}
	}
}

// start marks d as running.
func (a *fetchAhead) start(d digest.Digest) {
	a.mu.Lock()
	a.pending[d] = true
	a.busy++
	a.peak = max(a.peak, a.busy)
	a.mu.Unlock()
}

// end forgets d: a later manifest may queue it again (and find it cached).
func (a *fetchAhead) end(d digest.Digest) {
	a.mu.Lock()
	delete(a.pending, d)
	a.busy--
	a.mu.Unlock()
	if a.done != nil {
		a.done(d)
	}
}

// running reports whether a fetch ahead of d runs now.
func (a *fetchAhead) running(d digest.Digest) bool {
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending[d]
}

// fetch downloads j's blob unless it is cached or already downloading for
// a client, and waits until every byte is in and verified, so that at most
// workers blobs are fetched ahead at once. Errors only reach the log: the
// client's own GET will meet them, or succeed where this failed.
func (a *fetchAhead) fetch(j aheadJob) {
	if _, ok := a.blobs.DownloadSize(j.digest); ok {
		return // a client's download runs: nothing to add
	}
	if a.stored.Holds(a.ctx, j.digest) {
		return // its client is redirected to the store for it
	}
	br, err := a.blobs.Open(a.ctx, j.digest, j.open)
	if err != nil {
		if a.ctx.Err() == nil {
			a.log.Debug("fetch ahead failed", "name", j.repo, "digest", string(j.digest), "err", err)
		}
		return
	}
	defer br.Close()
	if br.FromCache() {
		return
	}
	a.stats.aheadFetched.Add(1)
	// The last byte becomes readable only once the blob matched its
	// digest: waiting for it waits for the download without reading it.
	from, to := int64(0), int64(-1)
	if size := br.Size(); size > 0 {
		from, to = size-1, size
	}
	if _, err := br.CopyTo(a.ctx, io.Discard, from, to); err != nil && a.ctx.Err() == nil {
		a.log.Debug("fetch ahead failed", "name", j.repo, "digest", string(j.digest), "err", err)
	}
}

// serveBlobAhead serves a blob request, counting in /metrics a GET that
// came while the blob was fetched ahead and was served from that running
// download.
func (s *server) serveBlobAhead(w *recorder, r *http.Request, rt *route, sess *session) error {
	ahead := r.Method == http.MethodGet && s.ahead.running(rt.digest)
	err := s.serveBlob(w, r, rt, sess)
	if ahead && err == nil && w.source == sourceMiss {
		s.stats.aheadJoined.Add(1)
	}
	return err
}
