package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/oci"
)

// Manifests and tag records in the store behind the cache.
//
// Written through: PutManifest and RecordTag write the cache directory,
// then queue the same object for the store; one writer per cache writes
// the queue in order, off the callers' path (a client never waits for
// the store, and a store that is down slows nothing). A manifest is
// created only if its key is free: its bytes are its digest's. A tag
// record is merged with the store's on the server's condition (If-Match,
// or If-None-Match for a new one), again when another mirror wrote it
// meanwhile: per media type the entry seen last wins, whichever mirror
// saw it, and the merged record comes back into the cache directory. So
// of two mirrors that record one tag at once neither loses the other's
// entries; an entry both wrote is the one with the later "seen" time (by
// the mirrors' clocks).
//
// Read through: GetManifest and ReadTag read the store when the cache
// directory lacks the object, check it (a manifest against its digest, a
// tag record as JSON), and keep it in the directory.

// recordQueueMax bounds the objects waiting for the store: past it, new
// ones are dropped (and counted in Stats.RemoteErrors) until the store
// takes what waits. A manifest is a few KiB.
const recordQueueMax = 4096

// drainTimeout bounds how long Close goes on writing the queue.
const drainTimeout = 10 * time.Second

// tagWriteTries bounds the merges of one tag record with the store's
// that another mirror's write overtook.
const tagWriteTries = 5

// maxRecordBytes bounds a manifest or tag record read from the store.
const maxRecordBytes = 8 << 20

// record is one object waiting for the store: a manifest's file bytes, or
// a tag record, which the writer reads from the cache directory when its
// turn comes (the newest version then).
type record struct {
	manifest      []byte
	registry, tag string
	repo          string
}

// recordQueue writes a cache's manifests and tag records to the store, in
// the order they were queued. A key queued again while it waits keeps one
// place, at the end, with the newest bytes.
type recordQueue struct {
	c      *Cache
	ctx    context.Context // the writes'; cancelled when the drain ends
	cancel context.CancelFunc
	done   chan struct{} // closed when the writer has returned

	mu      sync.Mutex
	changed *sync.Cond // new work, closing, or the writer went idle
	order   []string   // keys waiting, oldest first
	waiting map[string]record
	busy    bool // the writer is writing one
	closing bool
}

// newRecordQueue starts c's writer.
func newRecordQueue(c *Cache) *recordQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &recordQueue{c: c, ctx: ctx, cancel: cancel, done: make(chan struct{}), waiting: map[string]record{}}
	q.changed = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// add queues rec under key.
func (q *recordQueue) add(key string, rec record) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return
	}
	if _, ok := q.waiting[key]; ok {
		for i, k := range q.order {
			if k == key {
				q.order = append(q.order[:i], q.order[i+1:]...)
				break
			}
		}
	} else if len(q.order) >= recordQueueMax {
		q.c.stats.RemoteErrors.Add(1)
		q.c.log.Warn("too many manifests and tag records wait for the store: one is written to the cache directory only", "key", key)
		return
	}
	q.order = append(q.order, key)
	q.waiting[key] = rec
	q.changed.Broadcast()
}

// run writes the queue until close, then what is left until the drain
// ends.
func (q *recordQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.order) == 0 && !q.closing {
			q.changed.Wait()
		}
		if len(q.order) == 0 {
			q.mu.Unlock()
			return
		}
		key := q.order[0]
		q.order = q.order[1:]
		rec := q.waiting[key]
		delete(q.waiting, key)
		q.busy = true
		q.mu.Unlock()

		q.write(key, rec)

		q.mu.Lock()
		q.busy = false
		q.changed.Broadcast()
		q.mu.Unlock()
	}
}

// write writes one record to the store.
func (q *recordQueue) write(key string, rec record) {
	ctx, cancel := context.WithTimeout(q.ctx, remoteTimeout)
	defer cancel()
	var err error
	if rec.manifest != nil {
		_, err = q.c.remote.Create(ctx, key, rec.manifest, nil)
		if errors.Is(err, objstore.ErrExists) {
			return // the same bytes, from another mirror
		}
		if err == nil {
			q.c.stats.RemoteRecordWrites.Add(1)
		}
	} else {
		err = q.c.pushTag(ctx, rec.registry, rec.repo, rec.tag)
	}
	if err != nil {
		q.c.stats.RemoteErrors.Add(1)
		q.c.log.Warn("cannot write to the store: kept in the cache directory only", "key", key, "err", err)
	}
}

// waitingLen is how many records wait, not counting the one the writer
// is writing.
func (q *recordQueue) waitingLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// flush waits until the writer has written everything queued.
func (q *recordQueue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) > 0 || q.busy {
		q.changed.Wait()
	}
}

// close lets the writer write what is queued for at most drainTimeout,
// and waits for it to return.
func (q *recordQueue) close() {
	q.mu.Lock()
	q.closing = true
	q.changed.Broadcast()
	q.mu.Unlock()
	stop := time.AfterFunc(drainTimeout, q.cancel)
	<-q.done
	stop.Stop()
	q.cancel()
}

// putManifestLocal writes m's file into the cache directory and indexes
// it; raw is the file's bytes.
func (c *Cache) putManifestLocal(m Manifest, raw []byte) error {
	if err := c.writeFile(c.manifestPath(m.Digest), raw); err != nil {
		return err
	}
	c.refs.put(m.Digest, int64(len(raw)), namedBy(m.Data))
	c.stats.CacheBytes.Add(int64(len(m.Data)))
	return nil
}

// manifestFile is a manifest's file: "<media type>\n" then its bytes.
func manifestFile(m Manifest) []byte {
	var b bytes.Buffer
	b.Grow(len(m.MediaType) + 1 + len(m.Data))
	b.WriteString(m.MediaType)
	b.WriteByte('\n')
	b.Write(m.Data)
	return b.Bytes()
}

// parseManifestFile reads a manifest's file, checking its bytes against
// d.
func parseManifestFile(d digest.Digest, raw []byte) (Manifest, bool) {
	mt, data, ok := bytes.Cut(raw, []byte{'\n'})
	if !ok || d.Algorithm().FromBytes(data) != d {
		return Manifest{}, false
	}
	return Manifest{MediaType: string(mt), Data: data, Digest: d}, true
}

// manifestFromStore reads manifest d from the store into the cache
// directory, on a local miss (miss is that error, returned when the store
// has no good copy either).
func (c *Cache) manifestFromStore(d digest.Digest, miss error) (Manifest, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	key := manifestKey(d)
	raw, err := c.readRemote(ctx, key)
	if err != nil {
		c.readFailed(key, err)
		return Manifest{}, miss
	}
	m, ok := parseManifestFile(d, raw)
	if !ok {
		c.stats.RemoteDamaged.Add(1)
		c.log.Warn("a manifest in the store did not match its digest: deleted from the store", "digest", string(d))
		if err := c.remote.Delete(ctx, key); err != nil {
			c.stats.RemoteErrors.Add(1)
		}
		return Manifest{}, fmt.Errorf("manifest %s in the store: %w", d, oci.ErrDigestMismatch)
	}
	if err := c.putManifestLocal(m, raw); err != nil {
		c.log.Warn("cannot keep a manifest from the store in the cache directory", "digest", string(d), "err", err)
	}
	c.stats.RemoteRecordReads.Add(1)
	return m, nil
}

// readRemote reads a small object of the store whole. A missing object
// is an error wrapping objstore.ErrNotFound.
func (c *Cache) readRemote(ctx context.Context, key string) ([]byte, error) {
	r, err := c.remote.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	raw, err := io.ReadAll(io.LimitReader(r, maxRecordBytes+1))
	if err == nil && len(raw) > maxRecordBytes {
		err = fmt.Errorf("%s in the store is over %d bytes", key, maxRecordBytes)
	}
	return raw, err
}

// readFailed logs and counts a read through that failed for another
// reason than a missing object: the cache goes on as on a miss.
func (c *Cache) readFailed(key string, err error) {
	if !errors.Is(err, objstore.ErrNotFound) {
		c.stats.RemoteErrors.Add(1)
		c.log.Warn("cannot read from the store", "key", key, "err", err)
	}
}

// tagFromStore reads registry's repo:tag record from the store into the
// cache directory, on a local miss (miss is that error, returned when the
// store has none either).
func (c *Cache) tagFromStore(registry, repo, tag string, miss error) (TagRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	key := tagKey(registry, repo, tag)
	raw, err := c.readRemote(ctx, key)
	if err != nil {
		c.readFailed(key, err)
		return TagRecord{}, miss
	}
	var remote TagRecord
	if err := json.Unmarshal(raw, &remote); err != nil || len(remote.Entries) == 0 {
		c.log.Warn("a tag record in the store is not one: ignored", "repo", repo, "tag", tag)
		return TagRecord{}, miss
	}
	c.tagMu.Lock()
	defer c.tagMu.Unlock()
	// RecordTag may have written it since the miss.
	rec, err := c.readTagLocal(registry, repo, tag)
	if err != nil {
		rec = TagRecord{}
	}
	merged := mergeTags(rec, remote)
	raw, _ = json.Marshal(merged)
	if err := c.writeFile(c.tagPath(registry, repo, tag), raw); err != nil {
		c.log.Warn("cannot keep a tag record from the store in the cache directory", "repo", repo, "tag", tag, "err", err)
	}
	c.stats.RemoteRecordReads.Add(1)
	return merged, nil
}

// pushTag merges the cache directory's record of registry's repo:tag into
// the store's, on the server's condition that nobody wrote it meanwhile
// (else again, with the newer one), and brings the merged record back
// into the directory.
func (c *Cache) pushTag(ctx context.Context, registry, repo, tag string) error {
	key := tagKey(registry, repo, tag)
	for try := 0; try < tagWriteTries; try++ {
		c.tagMu.Lock()
		local, err := c.readTagLocal(registry, repo, tag)
		c.tagMu.Unlock()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed (cache clear) since it was queued
		}
		if err != nil {
			return err
		}
		remote, etag, err := c.remoteTag(ctx, key)
		if err != nil {
			return err
		}
		merged := mergeTags(local, remote)
		raw, _ := json.Marshal(merged)
		switch {
		case etag == "":
			_, err = c.remote.Create(ctx, key, raw, nil)
		case !sameTags(merged, remote):
			_, err = c.remote.Update(ctx, key, raw, nil, etag)
		}
		if errors.Is(err, objstore.ErrExists) || errors.Is(err, objstore.ErrChanged) || errors.Is(err, objstore.ErrNotFound) {
			continue // another mirror wrote (or removed) it meanwhile: merge again
		}
		if err != nil {
			return err
		}
		if etag == "" || !sameTags(merged, remote) {
			c.stats.RemoteRecordWrites.Add(1)
		}
		if !sameTags(merged, local) {
			c.mergeTagLocal(registry, repo, tag, merged)
		}
		return nil
	}
	return fmt.Errorf("tag record %s: other mirrors kept changing it; tried %d times", key, tagWriteTries)
}

// remoteTag is the store's record under key and its version; an empty
// record and "" when there is none. A record that does not parse is
// empty, with its version, so that it is replaced.
func (c *Cache) remoteTag(ctx context.Context, key string) (TagRecord, string, error) {
	info, err := c.remote.Stat(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return TagRecord{}, "", nil
	}
	if err != nil {
		return TagRecord{}, "", err
	}
	raw, err := c.readRemote(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return TagRecord{}, "", nil // removed since the stat: create it
	}
	if err != nil {
		return TagRecord{}, "", err
	}
	var rec TagRecord
	if json.Unmarshal(raw, &rec) != nil {
		rec = TagRecord{}
	}
	// The version read may be newer than the stat's: then the update's
	// condition fails and the merge runs again.
	return rec, info.ETag, nil
}

// mergeTagLocal merges rec into the cache directory's record.
func (c *Cache) mergeTagLocal(registry, repo, tag string, rec TagRecord) {
	c.tagMu.Lock()
	defer c.tagMu.Unlock()
	local, err := c.readTagLocal(registry, repo, tag)
	if err != nil {
		return // removed meanwhile
	}
	raw, _ := json.Marshal(mergeTags(local, rec))
	if err := c.writeFile(c.tagPath(registry, repo, tag), raw); err != nil {
		c.log.Warn("cannot keep a tag record from the store in the cache directory", "repo", repo, "tag", tag, "err", err)
	}
}

// mergeTags is a's entries with b's: per media type the one seen last (a's
// when both were seen at once), in a's order, then b's other media types
// in b's order.
func mergeTags(a, b TagRecord) TagRecord {
	out := TagRecord{Entries: make([]TagEntry, 0, len(a.Entries)+len(b.Entries))}
	at := map[string]int{}
	for _, e := range append(append([]TagEntry(nil), a.Entries...), b.Entries...) {
		if i, ok := at[e.MediaType]; ok {
			if e.Seen.After(out.Entries[i].Seen) {
				out.Entries[i] = e
			}
			continue
		}
		at[e.MediaType] = len(out.Entries)
		out.Entries = append(out.Entries, e)
	}
	return out
}

// sameTags reports whether two records hold the same entries, in any
// order.
func sameTags(a, b TagRecord) bool {
	if len(a.Entries) != len(b.Entries) {
		return false
	}
	byType := map[string]TagEntry{}
	for _, e := range a.Entries {
		byType[e.MediaType] = e
	}
	for _, e := range b.Entries {
		if o, ok := byType[e.MediaType]; !ok || o.Digest != e.Digest || !o.Seen.Equal(e.Seen) {
			return false
		}
	}
	return true
}
