package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/oci"
)

// A bounded store (issue 15, store_max): the blobs in the store behind
// the cache are kept under Options.StoreMax bytes by deleting the least
// recently used first, as the cache directory is kept under cache_max,
// but across every mirror that shares the store.
//
// Last use. A blob's last-use stamp is its object's last-modified time
// in the store. A mirror that serves a blob (a GET answered from its
// cache directory or from the store) and does not know of a stamp of it
// younger than StampEvery (a day) writes one: SetMeta copies the object
// onto itself, which gives it a new last-modified time. What it knows
// comes from the Stat of a read from the store, its own uploads and
// stamps, in a bounded memory. Stamps are written off the clients' path,
// from a bounded queue (a stamp past it is dropped and counted), on the
// blob store's wait group.
//
// Usage. With StoreMax set, a mirror lists blobs/ when it starts and then
// about every ten minutes (more often while the store holds at most a
// page of a listing, listPage blobs: then before every upload), and adds
// its own uploads in between. Over the bound, or before an upload that
// would take it over, it deletes the least recently stamped blobs, never
//
//   - one stamped within the grace period, DefaultStoreGrace (25 h: the
//     day of a stamp's granularity and an hour for a long download or
//     clocks apart), so a blob that any mirror served in the last day,
//     and so any blob a mirror is serving now, stays; and each is
//     stat'ed again just before it is deleted, for a stamp written since
//     the listing;
//   - a blob of an image pinned by any mirror: each mirror writes the
//     digests of its pinned images to pins/<instance>.json when they
//     change and once a day, and eviction skips every blob named in a
//     record younger than pinsMaxAge (7 days). A pin record that cannot
//     be read stops the eviction: a pin must never be lost to an error.
//
// An upload that eviction cannot make room for is skipped: the blob stays
// in the cache directory only, and that is counted (RemoteFull) and
// logged at most every fullWarnEvery. So the store stays under its bound
// even when every blob in it is young. Other mirrors' uploads are seen
// at their next listing: mirrors uploading at the same moment can take
// the store over its bound by those uploads until one of them lists it
// again.

// StampEvery is how often, at most, a mirror writes the last-use stamp
// of a blob it serves.
const StampEvery = 24 * time.Hour

// DefaultStoreGrace is how recently stamped a blob may be and still be
// evicted from the store: never within a day and an hour, see above.
const DefaultStoreGrace = StampEvery + time.Hour

const (
	// listEvery is how often a mirror with StoreMax lists the store's
	// blobs, give or take a fifth.
	listEvery = 10 * time.Minute
	// pinsRetry is how soon a pin record that could not be written is
	// tried again. (A change of pins is written at once: SetPinned calls
	// Cache.pinsChanged.)
	pinsRetry = time.Minute
	// listPage is the number of objects one listing request returns: a
	// store with no more blobs is listed before every upload.
	listPage = 1000
	// pinsEvery is how often a mirror writes its pin record again, so
	// that it stays younger than pinsMaxAge while the mirror runs.
	pinsEvery = 24 * time.Hour
	// pinsMaxAge is how long a pin record holds: one a mirror stopped
	// writing (it was stopped or removed) is ignored after that.
	pinsMaxAge = 7 * 24 * time.Hour
	// pinsDir holds the pin records in the store.
	pinsDir = "pins/"
	// maxPinRecord bounds the bytes of one pin record read.
	maxPinRecord = 16 << 20
	// stampQueueMax bounds the stamps waiting to be written.
	stampQueueMax = 1024
	// stampMemoryMax bounds the blobs whose stamps a mirror remembers.
	stampMemoryMax = 1 << 16
	// fullWarnEvery is how often, at most, a skipped upload is logged.
	fullWarnEvery = 10 * time.Minute
	// stampMeta is the metadata a stamp writes: the mirror's time, for a
	// person looking at the bucket; eviction goes by last-modified.
	stampMeta = "hubmirror-last-use"
	// instanceFile names the mirror's instance id in the cache directory.
	instanceFile = "instance"
)

// storeBlob is a blob in the store: its key, size and last-use stamp.
type storeBlob struct {
	key   string
	size  int64
	stamp time.Time
}

// pinRecord is pins/<instance>.json: the blobs of a mirror's pinned
// images.
type pinRecord struct {
	Instance string   `json:"instance"`
	Blobs    []string `json:"blobs"`
}

// keeper bounds the store behind one mirror's cache and writes its
// last-use stamps and pin record. Its methods are safe for concurrent
// use, and do nothing on a nil keeper (no store).
type keeper struct {
	b      *Blobs
	remote Remote
	max    int64 // StoreMax; 0: not bounded (stamps and pins still go)
	grace  time.Duration
	now    func() time.Time

	// smu guards the stamps known and queued.
	smu      sync.Mutex
	known    map[string]time.Time // blob key: the newest stamp known or queued
	queue    []string             // blob keys to stamp
	draining bool                 // a goroutine writes the queue

	// evictMu serializes listings, evictions and the checks before
	// uploads; it is taken before mu.
	evictMu sync.Mutex
	// mu guards the view of the store's usage.
	mu         sync.Mutex
	blobs      map[string]storeBlob // the last listing and own uploads since
	added      map[string]storeBlob // own uploads since a listing running now began; nil when none runs
	usage      int64                // bytes of blobs
	reserved   int64                // bytes of own uploads running
	listedAt   time.Time            // zero: never listed
	listedN    int                  // objects the last listing found
	nextList   time.Time
	fullWarned time.Time

	// Pins, touched by tend only (one at a time: evictMu).
	pinsSent []digest.Digest // sorted; what the record last written holds
	pinsAt   time.Time       // when it was written; zero: never

	// tmu guards the schedule.
	tmu     sync.Mutex
	timer   *time.Timer
	stopped bool
}

// newKeeper returns the keeper of b's store, nil when b's cache has no
// store. It starts tending at once, in ctx.
func newKeeper(ctx context.Context, b *Blobs) *keeper {
	c := b.cache
	if c.remote == nil {
		return nil
	}
	now := c.now
	if now == nil {
		now = time.Now
	}
	k := &keeper{b: b, remote: c.remote, max: c.storeMax, grace: DefaultStoreGrace, now: now, known: map[string]time.Time{}}
	c.keeper.Store(k)
	if c.manualTend {
		return k
	}
	k.tmu.Lock()
	k.timer = time.AfterFunc(0, func() { k.fire(ctx) })
	k.tmu.Unlock()
	context.AfterFunc(ctx, func() {
		k.tmu.Lock()
		k.stopped = true
		k.timer.Stop()
		k.tmu.Unlock()
	})
	return k
}

// fire runs tend on b's wait group, then schedules the next one for when
// tend says it has work again.
func (k *keeper) fire(ctx context.Context) {
	k.tmu.Lock()
	if k.stopped || ctx.Err() != nil {
		k.tmu.Unlock()
		return
	}
	k.b.wg.Add(1)
	k.tmu.Unlock()
	defer k.b.wg.Done()
	next := k.tend(ctx)
	k.tmu.Lock()
	if !k.stopped {
		k.timer.Reset(next)
	}
	k.tmu.Unlock()
}

// pinsChanged has the keeper of the store behind c, if any, write its
// pin record now rather than at its next look. SetPinned may call it.
func (c *Cache) pinsChanged() {
	k := c.keeper.Load()
	if k == nil {
		return
	}
	k.tmu.Lock()
	if !k.stopped && k.timer != nil {
		k.timer.Reset(0)
	}
	k.tmu.Unlock()
}

// tend writes the pin record when it is due, and with StoreMax lists the
// store and evicts when a listing is due. It returns how long until one
// of them is due again.
func (k *keeper) tend(ctx context.Context) time.Duration {
	k.evictMu.Lock()
	defer k.evictMu.Unlock()
	now := k.now()
	next := k.writePins(ctx, now)
	if k.max <= 0 {
		return next
	}
	if now.Before(k.nextList) {
		return min(next, k.nextList.Sub(now))
	}
	k.nextList = now.Add(listEvery*4/5 + mrand.N(listEvery*2/5))
	next = min(next, k.nextList.Sub(now))
	if err := k.list(ctx); err != nil {
		k.storeError("cannot list the blobs in the store: store_max is enforced from what this mirror knows", err)
		return next
	}
	k.mu.Lock()
	over := k.usage+k.reserved > k.max
	k.mu.Unlock()
	if over {
		k.evict(ctx, k.max)
	}
	return next
}

// storeError counts and logs a failed request to the store, unless the
// mirror is stopping.
func (k *keeper) storeError(msg string, err error) {
	if k.b.ctx.Err() != nil {
		return
	}
	k.b.cache.stats.RemoteErrors.Add(1)
	k.b.log.Warn(msg, "err", err)
}

// served notes that the blob d was served; stamp is its last-modified
// time in the store when the caller just read it (zero: not known). A
// stamp is queued when none younger than StampEvery is known.
func (k *keeper) served(d digest.Digest, stamp time.Time) {
	if k == nil {
		return
	}
	key := blobKey(d)
	now := k.now()
	k.smu.Lock()
	defer k.smu.Unlock()
	last, ok := k.known[key]
	if stamp.After(last) {
		last, ok = stamp, true
	}
	if ok && now.Sub(last) < StampEvery {
		k.rememberLocked(key, last)
		return
	}
	if len(k.queue) >= stampQueueMax || k.b.ctx.Err() != nil {
		k.b.cache.stats.RemoteStampsDropped.Add(1)
		return
	}
	// Queued counts as known: one stamp per blob, however many readers.
	k.rememberLocked(key, now)
	k.queue = append(k.queue, key)
	if !k.draining {
		k.draining = true
		k.b.wg.Add(1)
		go k.drain()
	}
}

// rememberLocked notes the stamp of key, keeping at most stampMemoryMax:
// when full, those older than StampEvery go, and all when none is. A
// forgotten blob costs one Stat the next time it is served. smu is held.
func (k *keeper) rememberLocked(key string, stamp time.Time) {
	if _, ok := k.known[key]; !ok && len(k.known) >= stampMemoryMax {
		now := k.now()
		for kk, t := range k.known {
			if now.Sub(t) >= StampEvery {
				delete(k.known, kk)
			}
		}
		if len(k.known) >= stampMemoryMax {
			clear(k.known)
		}
	}
	if stamp.After(k.known[key]) {
		k.known[key] = stamp
	}
}

// stampOf is the newest stamp this mirror knows or queued of key.
func (k *keeper) stampOf(key string) time.Time {
	k.smu.Lock()
	defer k.smu.Unlock()
	return k.known[key]
}

// drain writes the queued stamps, then ends.
func (k *keeper) drain() {
	defer k.b.wg.Done()
	for {
		k.smu.Lock()
		if len(k.queue) == 0 || k.b.ctx.Err() != nil {
			k.b.cache.stats.RemoteStampsDropped.Add(int64(len(k.queue)))
			k.queue, k.draining = nil, false
			k.smu.Unlock()
			return
		}
		key := k.queue[0]
		k.queue = k.queue[1:]
		k.smu.Unlock()
		k.stamp(key)
	}
}

// stamp writes a last-use stamp on key's object, unless another mirror
// wrote one within StampEvery.
func (k *keeper) stamp(key string) {
	ctx, cancel := context.WithTimeout(k.b.ctx, remoteTimeout)
	defer cancel()
	info, err := k.remote.Stat(ctx, key)
	now := k.now()
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		// Served here and not in the store: its upload was cut (a killed
		// mirror), skipped (a full store) or it was evicted. It is in use,
		// so it goes up again, verified as any upload; a store still full
		// skips it again. Looked at again tomorrow.
		k.b.reupload(key)
		return
	case err != nil:
		k.forgetStamp(key) // the next serve tries again
		k.storeError("cannot stamp the last use of a blob in the store", err)
		return
	case now.Sub(info.LastModified) < StampEvery:
		k.noteStamp(key, info.LastModified)
		return
	}
	info, err = k.remote.SetMeta(ctx, key, map[string]string{stampMeta: now.UTC().Format(time.RFC3339)})
	switch {
	case err == nil:
		k.b.cache.stats.RemoteStamps.Add(1)
		k.noteStamp(key, info.LastModified)
	case errors.Is(err, objstore.ErrNotFound), errors.Is(err, objstore.ErrChanged):
		// Evicted or changed meanwhile: a changed object is a new one.
	default:
		k.forgetStamp(key)
		k.storeError("cannot stamp the last use of a blob in the store", err)
	}
}

// noteStamp records a stamp of key seen in the store, in what the keeper
// knows and in its view of the store.
func (k *keeper) noteStamp(key string, stamp time.Time) {
	k.smu.Lock()
	k.rememberLocked(key, stamp)
	k.smu.Unlock()
	k.mu.Lock()
	if e, ok := k.blobs[key]; ok && stamp.After(e.stamp) {
		e.stamp = stamp
		k.blobs[key] = e
	}
	k.mu.Unlock()
}

// forgetStamp drops what is known of key's stamp.
func (k *keeper) forgetStamp(key string) {
	k.smu.Lock()
	delete(k.known, key)
	k.smu.Unlock()
}

// reserve makes room in the store for an upload of size bytes of d, and
// counts it as used until uploaded is called. false: the store is full
// of blobs that may not be evicted, and the upload is skipped (counted,
// and logged at most every fullWarnEvery).
func (k *keeper) reserve(ctx context.Context, d digest.Digest, size int64) bool {
	if k == nil {
		return true
	}
	if k.max <= 0 {
		k.mu.Lock()
		k.reserved += size
		k.mu.Unlock()
		return true
	}
	k.evictMu.Lock()
	defer k.evictMu.Unlock()
	now := k.now()
	k.mu.Lock()
	stale := k.listedAt.IsZero() || now.Sub(k.listedAt) >= listEvery || k.listedN <= listPage
	k.mu.Unlock()
	if stale {
		if err := k.list(ctx); err != nil {
			k.storeError("cannot list the blobs in the store: store_max is enforced from what this mirror knows", err)
		}
	}
	if size <= k.max {
		if k.take(size) {
			return true
		}
		k.evict(ctx, k.max-size)
		if k.take(size) {
			return true
		}
	}
	k.b.cache.stats.RemoteFull.Add(1)
	k.mu.Lock()
	warn := k.fullWarned.IsZero() || now.Sub(k.fullWarned) >= fullWarnEvery
	if warn {
		k.fullWarned = now
	}
	used := k.usage + k.reserved
	k.mu.Unlock()
	if warn {
		k.b.log.Warn("the store is full (store_max) of blobs used within a day or pinned: a blob is kept in the cache directory only, not uploaded; raise store_max",
			"digest", string(d), "bytes", size, "store_bytes", used, "store_max", k.max)
	}
	return false
}

// take reserves size bytes when they fit under the bound.
func (k *keeper) take(size int64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.usage+k.reserved+size > k.max {
		return false
	}
	k.reserved += size
	return true
}

// uploaded ends the reservation of an upload of size bytes to key; info
// is the object when the upload put one there (ok).
func (k *keeper) uploaded(key string, size int64, info objstore.Info, ok bool) {
	if k == nil {
		return
	}
	if ok {
		stamp := info.LastModified
		if stamp.IsZero() {
			stamp = k.now()
		}
		k.smu.Lock()
		k.rememberLocked(key, stamp)
		k.smu.Unlock()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reserved -= size
	if !ok || k.max <= 0 {
		return
	}
	e := storeBlob{key: key, size: info.Size, stamp: info.LastModified}
	if e.size <= 0 {
		e.size = size
	}
	if old, had := k.blobs[key]; had {
		k.usage -= old.size
	}
	if k.blobs == nil {
		k.blobs = map[string]storeBlob{}
	}
	k.blobs[key] = e
	k.usage += e.size
	if k.added != nil {
		k.added[key] = e
	}
	k.b.cache.stats.RemoteUsage.Store(k.usage)
}

// list replaces the view of the store's blobs with a listing, keeping
// the uploads that ended while it ran. evictMu is held.
func (k *keeper) list(ctx context.Context) error {
	k.mu.Lock()
	k.added = map[string]storeBlob{}
	k.mu.Unlock()
	blobs, n, err := listStoreBlobs(ctx, k.remote)
	k.mu.Lock()
	defer k.mu.Unlock()
	added := k.added
	k.added = nil
	if err != nil {
		return err
	}
	for key, e := range added {
		if _, ok := blobs[key]; !ok {
			blobs[key] = e
		}
	}
	k.blobs, k.listedAt, k.listedN, k.usage = blobs, k.now(), n, 0
	for _, e := range blobs {
		k.usage += e.size
	}
	k.b.cache.stats.RemoteUsage.Store(k.usage)
	return nil
}

// evict deletes least recently stamped blobs until the store's blobs and
// the uploads running take at most target bytes, or nothing more may go.
// evictMu is held.
func (k *keeper) evict(ctx context.Context, target int64) {
	pinned, err := readPins(ctx, k.remote, k.now())
	if err != nil {
		k.storeError("not evicting from the store: a record of pinned images cannot be read; if it is damaged, delete it (its mirror writes it again within a day)", err)
		return
	}
	for _, d := range k.b.cache.index.pinnedDigests() {
		pinned[blobKey(d)] = true
	}
	k.mu.Lock()
	cands := make([]storeBlob, 0, len(k.blobs))
	for _, e := range k.blobs {
		cands = append(cands, e)
	}
	total := k.usage + k.reserved
	k.mu.Unlock()
	ev := evictor{remote: k.remote, now: k.now(), grace: k.grace, pinned: pinned, stampOf: k.stampOf}
	deleted, vanished, err := ev.run(ctx, cands, total, target)
	var freed int64
	k.mu.Lock()
	for _, e := range append(deleted, vanished...) {
		if old, ok := k.blobs[e.key]; ok {
			k.usage -= old.size
			delete(k.blobs, e.key)
		}
	}
	for _, e := range deleted {
		freed += e.size
	}
	k.b.cache.stats.RemoteUsage.Store(k.usage)
	k.mu.Unlock()
	st := k.b.cache.stats
	st.RemoteEvicted.Add(int64(len(deleted)))
	st.RemoteEvictedBytes.Add(freed)
	if len(deleted) > 0 {
		k.b.log.Info("evicted least recently used blobs from the store for store_max", "blobs", len(deleted), "bytes", freed)
	}
	if err != nil {
		k.storeError("evicting from the store stopped", err)
	}
}

// writePins writes the mirror's pin record when its pins changed since
// the last one, and once every pinsEvery while it has any. A mirror that
// never had pins writes none. It returns how long until the
// record is due again. evictMu is held (tend).
func (k *keeper) writePins(ctx context.Context, now time.Time) time.Duration {
	pins := k.b.cache.index.pinnedDigests()
	same := slices.Equal(pins, k.pinsSent)
	switch {
	case k.pinsAt.IsZero() && len(pins) == 0, same && len(pins) == 0:
		return pinsEvery // nothing to record until the pins change
	case same && now.Sub(k.pinsAt) < pinsEvery:
		return k.pinsAt.Add(pinsEvery).Sub(now)
	}
	id, err := k.b.cache.instanceID()
	if err != nil {
		k.b.log.Warn("cannot keep this mirror's id in the cache directory: its pinned images are not recorded in the store, and another mirror's store_max may evict them", "err", err)
		return pinsRetry
	}
	rec := pinRecord{Instance: id, Blobs: make([]string, len(pins))}
	for i, d := range pins {
		rec.Blobs[i] = d.String()
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return pinsRetry
	}
	sctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	if _, err := k.remote.Put(sctx, pinsDir+id+".json", data, nil); err != nil {
		k.storeError("cannot write this mirror's pinned images to the store: another mirror's store_max may evict them", err)
		return pinsRetry
	}
	k.pinsSent, k.pinsAt = pins, now
	return pinsEvery
}

// pinnedDigests returns the pinned blobs, sorted.
func (ix *blobIndex) pinnedDigests() []digest.Digest {
	ix.mu.Lock()
	out := make([]digest.Digest, 0, len(ix.pinned))
	for d := range ix.pinned {
		out = append(out, d)
	}
	ix.mu.Unlock()
	slices.Sort(out)
	return out
}

// instanceID is the mirror's id among the mirrors on one store: random,
// made once and kept in the cache directory.
func (c *Cache) instanceID() (string, error) {
	p := c.local(instanceFile)
	if raw, err := os.ReadFile(p); err == nil {
		if id := strings.TrimSpace(string(raw)); validInstanceID(id) {
			return id, nil
		}
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	if err := c.writeFile(p, []byte(id+"\n")); err != nil {
		return "", err
	}
	return id, nil
}

// validInstanceID reports whether id is one instanceID made.
func validInstanceID(id string) bool {
	if len(id) != 16 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// listStoreBlobs lists the blobs in the store, with the number of objects
// listed.
func listStoreBlobs(ctx context.Context, r Remote) (map[string]storeBlob, int, error) {
	blobs := map[string]storeBlob{}
	n := 0
	for info, err := range r.List(ctx, "blobs/") {
		if err != nil {
			return nil, 0, err
		}
		n++
		blobs[info.Key] = storeBlob{key: info.Key, size: info.Size, stamp: info.LastModified}
	}
	return blobs, n, nil
}

// PinRecordError is a pin record in the store that cannot be read or
// parsed (Key is pinsDir when the records cannot be listed): eviction
// removes nothing then, so that no pinned blob is lost to an error.
type PinRecordError struct {
	Key string
	Err error
}

func (e *PinRecordError) Error() string {
	return fmt.Sprintf("pin record %s cannot be read: %v", e.Key, e.Err)
}

func (e *PinRecordError) Unwrap() error { return e.Err }

// readPins returns the keys of the blobs named by the pin records in the
// store younger than pinsMaxAge at now. Its errors are PinRecordErrors.
func readPins(ctx context.Context, r Remote, now time.Time) (map[string]bool, error) {
	keys := map[string]bool{}
	for info, err := range r.List(ctx, pinsDir) {
		if err != nil {
			return nil, &PinRecordError{Key: pinsDir, Err: err}
		}
		if !strings.HasSuffix(info.Key, ".json") || now.Sub(info.LastModified) > pinsMaxAge {
			continue
		}
		rec, err := readPinRecord(ctx, r, info.Key)
		if err != nil {
			return nil, &PinRecordError{Key: info.Key, Err: err}
		}
		for _, s := range rec.Blobs {
			if d, err := oci.ParseDigest(s); err == nil {
				keys[blobKey(d)] = true
			}
		}
	}
	return keys, nil
}

// readPinRecord reads and parses the pin record under key.
func readPinRecord(ctx context.Context, r Remote, key string) (pinRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	body, err := r.Get(ctx, key, 0, -1)
	if errors.Is(err, objstore.ErrNotFound) {
		return pinRecord{}, nil // its mirror removed it meanwhile
	}
	if err != nil {
		return pinRecord{}, err
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, maxPinRecord))
	if err != nil {
		return pinRecord{}, err
	}
	var rec pinRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return pinRecord{}, err
	}
	return rec, nil
}

// parseBlobKey returns the digest of a blob key, blobs/<alg>/<xx>/<hex>;
// ok is false for any other key.
func parseBlobKey(key string) (digest.Digest, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] != "blobs" {
		return "", false
	}
	d, err := oci.ParseDigest(parts[1] + ":" + parts[3])
	if err != nil || blobKey(d) != path.Clean(key) {
		return "", false
	}
	return d, true
}

// evictor picks and deletes the blobs to evict from a store.
type evictor struct {
	remote Remote
	now    time.Time
	grace  time.Duration
	pinned map[string]bool // blob keys never evicted
	// stampOf, when not nil, is a stamp of the key's blob that this
	// mirror knows or queued, possibly newer than the listing's.
	stampOf func(key string) time.Time
}

// run deletes blobs of cands, least recently stamped first, until total
// (the bytes of cands and any reservations) is at most target: never a
// pinned blob, one stamped within the grace, or a key that is not a
// blob's. Each one is stat'ed again before it is deleted, for a stamp
// written since the listing. It returns the blobs deleted and those found
// gone, and the error that stopped it.
func (e evictor) run(ctx context.Context, cands []storeBlob, total, target int64) (deleted, vanished []storeBlob, err error) {
	slices.SortFunc(cands, func(a, b storeBlob) int {
		if c := a.stamp.Compare(b.stamp); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	young := func(t time.Time) bool { return e.now.Sub(t) < e.grace }
	for _, c := range cands {
		if total <= target {
			break
		}
		if young(c.stamp) {
			break // sorted: the rest are younger
		}
		if _, ok := parseBlobKey(c.key); !ok || e.pinned[c.key] || (e.stampOf != nil && young(e.stampOf(c.key))) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, remoteTimeout)
		info, err := e.remote.Stat(sctx, c.key)
		if errors.Is(err, objstore.ErrNotFound) {
			cancel()
			vanished = append(vanished, c)
			total -= c.size
			continue
		}
		if err == nil && young(info.LastModified) {
			cancel()
			continue
		}
		if err == nil {
			err = e.remote.Delete(sctx, c.key)
		}
		cancel()
		if err != nil {
			return deleted, vanished, err
		}
		c.size = info.Size
		deleted = append(deleted, c)
		total -= c.size
	}
	return deleted, vanished, nil
}

// StorePruned is what PruneStore did: the blobs it deleted and their
// bytes, and the bytes of blobs left in the store.
type StorePruned struct {
	Blobs int
	Freed int64
	Left  int64
}

// PruneStore deletes the least recently used blobs from the store r
// until at most to bytes of blobs are left, with the rules of store_max
// (see above): never a blob pinned by any mirror, nor one stamped within
// grace (DefaultStoreGrace keeps every blob a mirror may be serving; 0
// lets every unpinned blob go, for when no mirror serves from the
// store). It is `hubmirror cache prune` on a store. A pin record that
// cannot be read is a *PinRecordError, and nothing is removed.
func PruneStore(ctx context.Context, r Remote, to int64, grace time.Duration) (StorePruned, error) {
	blobs, _, err := listStoreBlobs(ctx, r)
	if err != nil {
		return StorePruned{}, err
	}
	now := time.Now()
	pinned, err := readPins(ctx, r, now)
	if err != nil {
		return StorePruned{}, err
	}
	cands := make([]storeBlob, 0, len(blobs))
	var total int64
	for _, e := range blobs {
		cands = append(cands, e)
		total += e.size
	}
	ev := evictor{remote: r, now: now, grace: grace, pinned: pinned}
	deleted, vanished, err := ev.run(ctx, cands, total, to)
	res := StorePruned{Blobs: len(deleted), Left: total}
	for _, e := range deleted {
		res.Freed += e.size
		res.Left -= e.size
	}
	for _, e := range vanished {
		res.Left -= e.size
	}
	return res, err
}
