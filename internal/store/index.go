package store

import (
	"container/list"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// touchEvery bounds how often a blob's last use is written to its file's
// modification time, which keeps the LRU order across restarts.
const touchEvery = time.Minute

// blobIndex tracks the cached blobs for the size limit: their sizes, when
// each was last used, and which are in use right now. The files are the
// truth (a blob's size is its file's, its last use its modification
// time), so the index is rebuilt from them at start and a crash loses
// nothing but a minute of last-use times.
type blobIndex struct {
	mu     sync.Mutex
	max    int64 // bytes of blobs to keep at most
	total  int64
	lru    *list.List // of digest, most recently used first
	blobs  map[digest.Digest]*blobEntry
	inUse  map[digest.Digest]int  // readers and downloads of each blob
	pinned map[digest.Digest]bool // blobs of pinned images: never evicted
}

// setPinned replaces the set of blobs that are never evicted.
func (ix *blobIndex) setPinned(ds []digest.Digest) {
	ix.mu.Lock()
	ix.pinned = map[digest.Digest]bool{}
	for _, d := range ds {
		ix.pinned[d] = true
	}
	ix.mu.Unlock()
}

type blobEntry struct {
	size     int64
	lastUse  time.Time
	written  time.Time     // when lastUse last reached the file
	elem     *list.Element // in blobIndex.lru
	verified fileVersion   // the file's version last found to match the digest
}

// loadIndex reads the blobs under root/blobs.
func loadIndex(root string, max int64) *blobIndex {
	ix := &blobIndex{max: max, lru: list.New(), blobs: map[digest.Digest]*blobEntry{}, inUse: map[digest.Digest]int{}}
	base := filepath.Join(root, "blobs")
	_ = filepath.WalkDir(base, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(base, path) // sha256/ab/abcd…
		parts := strings.Split(filepath.ToSlash(rel), "/")
		d, err := oci.ParseDigest(parts[0] + ":" + parts[len(parts)-1])
		if err != nil || len(parts) != 3 {
			return nil
		}
		if info, err := e.Info(); err == nil {
			ix.blobs[d] = &blobEntry{size: info.Size(), lastUse: info.ModTime(), written: info.ModTime()}
			ix.total += info.Size()
		}
		return nil
	})
	order := make([]digest.Digest, 0, len(ix.blobs))
	for d := range ix.blobs {
		order = append(order, d)
	}
	sort.Slice(order, func(i, j int) bool { return ix.blobs[order[i]].lastUse.After(ix.blobs[order[j]].lastUse) })
	for _, d := range order {
		ix.blobs[d].elem = ix.lru.PushBack(d)
	}
	return ix
}

// acquire and release count the readers and downloads of d.
func (ix *blobIndex) acquire(d digest.Digest) {
	ix.mu.Lock()
	ix.inUse[d]++
	ix.mu.Unlock()
}

func (ix *blobIndex) release(d digest.Digest) {
	ix.mu.Lock()
	if ix.inUse[d]--; ix.inUse[d] <= 0 {
		delete(ix.inUse, d)
	}
	ix.mu.Unlock()
}

// touch notes that d was just served, and writes it to the file's
// modification time at most once a minute.
func (ix *blobIndex) touch(d digest.Digest, path string) {
	now := time.Now()
	ix.mu.Lock()
	e := ix.blobs[d]
	write := e != nil && now.Sub(e.written) > touchEvery
	if e != nil {
		e.lastUse = now
		ix.lru.MoveToFront(e.elem)
		if write {
			e.written = now
		}
	}
	ix.mu.Unlock()
	if !write {
		return
	}
	before, err := os.Stat(path)
	if err != nil || os.Chtimes(path, now, now) != nil {
		return
	}
	// The new modification time is ours: a verified file stays verified.
	if after, err := os.Stat(path); err == nil && ix.isVerified(d, versionOf(before)) {
		ix.markVerified(d, versionOf(after))
	}
}

// fits reports whether a blob of size bytes may be kept at all.
func (ix *blobIndex) fits(size int64) bool { return ix.max <= 0 || size <= ix.max }

// add records a new blob and returns the blobs to evict so that the total
// stays under the limit: least recently used first, never one in use.
func (ix *blobIndex) add(d digest.Digest, size int64) []digest.Digest {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old := ix.blobs[d]; old != nil {
		ix.total -= old.size
		ix.lru.Remove(old.elem)
	}
	now := time.Now()
	ix.blobs[d] = &blobEntry{size: size, lastUse: now, written: now, elem: ix.lru.PushFront(d)}
	ix.total += size
	if ix.max <= 0 {
		return nil
	}
	return ix.overLocked(ix.max, d)
}

// over returns the blobs to evict to get down to limit bytes.
func (ix *blobIndex) over(limit int64) []digest.Digest {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.overLocked(limit, "")
}

func (ix *blobIndex) overLocked(limit int64, keep digest.Digest) []digest.Digest {
	// From the least recently used end, skipping what may not go.
	var out []digest.Digest
	for e := ix.lru.Back(); e != nil && ix.total > limit; {
		prev := e.Prev()
		d := e.Value.(digest.Digest)
		if d != keep && ix.inUse[d] == 0 && !ix.pinned[d] {
			ix.total -= ix.blobs[d].size
			ix.lru.Remove(e)
			delete(ix.blobs, d)
			out = append(out, d)
		}
		e = prev
	}
	return out
}

// reset forgets every blob (the cache was emptied); blobs in use and the
// pins stay as they are.
func (ix *blobIndex) reset() {
	ix.mu.Lock()
	ix.lru.Init()
	ix.blobs = map[digest.Digest]*blobEntry{}
	ix.total = 0
	ix.mu.Unlock()
}

// forget drops d, whose file is gone.
func (ix *blobIndex) forget(d digest.Digest) {
	ix.mu.Lock()
	if e := ix.blobs[d]; e != nil {
		ix.total -= e.size
		ix.lru.Remove(e.elem)
		delete(ix.blobs, d)
	}
	ix.mu.Unlock()
}

// size returns the bytes of blobs kept.
func (ix *blobIndex) size() int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.total
}

// usage returns the bytes and the number of blobs kept.
func (ix *blobIndex) usage() (bytes int64, blobs int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.total, len(ix.blobs)
}

// digests returns the digests of the blobs kept, sorted.
func (ix *blobIndex) digests() []digest.Digest {
	ix.mu.Lock()
	all := make([]digest.Digest, 0, len(ix.blobs))
	for d := range ix.blobs {
		all = append(all, d)
	}
	ix.mu.Unlock()
	slices.Sort(all)
	return all
}

// SetPinned replaces the set of blobs that are never evicted: those of
// the pinned images.
func (c *Cache) SetPinned(ds []digest.Digest) {
	c.index.setPinned(ds)
	c.pinsChanged() // the store's pin record, so other mirrors keep them too
}

// Size returns the bytes of blobs kept.
func (c *Cache) Size() int64 { return c.index.size() }

// Usage returns the bytes and the number of blobs kept.
func (c *Cache) Usage() (bytes int64, blobs int) { return c.index.usage() }

// removeBlobs deletes evicted blobs and then every manifest that
// references one of them, so no cached manifest names a missing layer: an
// index whose platform manifest goes, goes too. The manifests come from
// the reverse index (refindex.go), so no manifest file is read. It returns
// the bytes freed.
func (c *Cache) removeBlobs(gone []digest.Digest) (int64, error) {
	if len(gone) == 0 {
		return 0, nil
	}
	var freed int64
	var errs []error
	for _, d := range gone {
		p := c.blobPath(d)
		if info, err := os.Stat(p); err == nil {
			freed += info.Size()
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, m := range c.refs.takeUsers(gone) {
		err := os.Remove(c.manifestPath(m.digest))
		switch {
		case err == nil:
			freed += m.size
		case !errors.Is(err, fs.ErrNotExist):
			// Still on disk: keep it in the index for the next eviction.
			c.refs.put(m.digest, m.size, m.named)
			errs = append(errs, err)
		}
	}
	return freed, errors.Join(errs...)
}
