package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
)

// blobStore serves blobs from the cache and runs one download per uncached
// blob, which every client asking for that blob reads as it grows.
type blobStore struct {
	cache *diskCache
	stats *stats
	log   *slog.Logger
	ctx   context.Context // downloads run in it; cancelled when the mirror stops
	wg    sync.WaitGroup  // running downloads

	mu        sync.Mutex
	downloads map[digest]*download
}

func newBlobStore(ctx context.Context, c *diskCache, st *stats, log *slog.Logger) *blobStore {
	return &blobStore{cache: c, stats: st, log: log, ctx: ctx, downloads: map[digest]*download{}}
}

// blobReader is a client's view of one blob: its own file handle on either
// the cached file or a download's temp file.
type blobReader struct {
	file *os.File
	dl   *download // nil when the blob is cached
	size int64     // -1 while unknown
	// started is true for the request whose miss started the download.
	started bool
	release func() // ends the reader's hold on the blob
}

// fromCache reports whether the request is a cache hit: the blob is cached,
// or another request's download of it has already been verified.
func (br *blobReader) fromCache() bool {
	return br.dl == nil || (!br.started && br.dl.verified())
}

// Close closes the reader's file handle and lets the blob be evicted.
func (br *blobReader) Close() error {
	br.release()
	return br.file.Close()
}

// open returns a reader for d, starting a download with start when the
// blob is neither cached nor being downloaded. It waits until upstream has
// answered, so an upstream error reaches the client as an error.
func (b *blobStore) open(ctx context.Context, d digest, start openFunc) (*blobReader, error) {
	var dl *download
	started := false
	for try := 0; dl == nil; try++ {
		if br, err := b.openCached(d); err == nil {
			return br, nil
		}
		b.mu.Lock()
		if dl = b.downloads[d]; dl != nil {
			break
		}
		// A download may have been committed since the first look: open
		// it outside the lock (opening may hash the file).
		if _, err := os.Stat(b.cache.blobPath(d)); err == nil && try < 2 {
			b.mu.Unlock()
			continue
		}
		var err error
		if dl, err = b.startLocked(d, start); err != nil {
			b.mu.Unlock()
			return nil, err
		}
		started = true
	}
	f, err := os.Open(dl.tmp)
	if err == nil {
		b.cache.index.acquire(d)
	}
	b.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	release := func() { b.cache.index.release(d) }
	select {
	case <-dl.ready:
	case <-ctx.Done():
		release()
		f.Close()
		return nil, ctx.Err()
	}
	if dl.startErr != nil {
		release()
		f.Close()
		return nil, dl.startErr
	}
	return &blobReader{file: f, dl: dl, size: dl.size, started: started, release: release}, nil
}

// openCached opens d's cached file, after checking it against the digest
// when this version of the file was not checked yet (see verify.go). A
// damaged file is removed and reported as not there (errDamaged wraps
// fs.ErrNotExist), so callers fetch the blob again.
func (b *blobStore) openCached(d digest) (*blobReader, error) {
	path := b.cache.blobPath(d)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	ix := b.cache.index
	ix.acquire(d)
	if err := b.verifyCached(d, f, versionOf(info)); err != nil {
		ix.release(d)
		f.Close()
		return nil, err
	}
	ix.touch(d, path)
	return &blobReader{file: f, size: info.Size(), release: func() { ix.release(d) }}, nil
}

// startLocked registers and starts a download. b.mu is held.
func (b *blobStore) startLocked(d digest, start openFunc) (*download, error) {
	if err := b.ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: the mirror is stopping", ErrUnreachable)
	}
	tmp, err := b.cache.createTemp("blob-*")
	if err != nil {
		// The path stays in the log; the client learns only that the blob
		// comes straight from upstream.
		b.log.Warn("cannot start a download in the cache directory; streaming without keeping", "digest", string(d), "err", err)
		return nil, fmt.Errorf("blob %s: %w", d, errCacheWrite)
	}
	tmp.Close()
	dl := newDownload(d, tmp.Name())
	dl.makeRoom = b.makeRoom
	b.downloads[d] = dl
	b.cache.index.acquire(d) // the download itself; released in finish
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		dl.run(b.ctx, start, b.stats, b.log, func(err error) error { return b.finish(dl, err) })
	}()
	return dl, nil
}

// finish unregisters a download and, when it succeeded, moves its verified
// file into the cache. Both happen under b.mu, so a client either joins the
// download or finds the cached file.
func (b *blobStore) finish(dl *download, err error) error {
	gone, err := b.finishLocked(dl, err)
	b.evict(gone) // file I/O, outside the lock
	return err
}

func (b *blobStore) finishLocked(dl *download, err error) ([]digest, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.downloads, dl.digest)
	ix := b.cache.index
	defer ix.release(dl.digest)
	if err == nil && !ix.fits(dl.written) {
		b.log.Info("blob larger than cache_max: served, not kept", "digest", string(dl.digest), "bytes", dl.written)
		if err := os.Remove(dl.tmp); err != nil {
			b.log.Warn("remove temp file", "err", err)
		}
		return nil, nil
	}
	if err == nil {
		path := b.cache.blobPath(dl.digest)
		if err = b.cache.commit(dl.tmp, path); err == nil {
			b.stats.blobCommitted(dl.written)
			gone := ix.add(dl.digest, dl.written)
			if info, err := os.Stat(path); err == nil {
				ix.markVerified(dl.digest, versionOf(info)) // hashed on the way in
			}
			return gone, nil
		}
	}
	if rerr := os.Remove(dl.tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		b.log.Warn("remove temp file", "err", rerr)
	}
	return nil, err
}

// makeRoom frees at least need bytes, and a few MiB more, by evicting the
// least recently used blobs that are not in use, after a write found the
// disk full. It reports whether anything was freed.
func (b *blobStore) makeRoom(need int64) bool {
	ix := b.cache.index
	gone := ix.over(max(ix.size()-need-roomSlack, 0))
	if len(gone) == 0 {
		b.log.Warn("the cache's disk is full and nothing can be evicted")
		return false
	}
	freed, err := b.cache.removeBlobs(gone)
	b.stats.cacheBytes.Add(-freed)
	b.log.Warn("the cache's disk is full: evicted least recently used blobs", "blobs", len(gone), "bytes", freed)
	if err != nil {
		b.log.Warn("evict", "err", err)
	}
	return freed > 0
}

// roomSlack is what makeRoom frees beyond the write that needed it, so a
// full disk does not cost an eviction per write.
const roomSlack = 16 << 20

// evict removes blobs the index gave up, and the manifests that name them.
func (b *blobStore) evict(gone []digest) {
	if len(gone) == 0 {
		return
	}
	freed, err := b.cache.removeBlobs(gone)
	b.stats.cacheBytes.Add(-freed)
	b.log.Info("evicted least recently used blobs for cache_max", "blobs", len(gone), "bytes", freed)
	if err != nil {
		b.log.Warn("evict", "err", err)
	}
}

// inFlight returns the running download of d, if any.
func (b *blobStore) inFlight(d digest) *download {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.downloads[d]
}

// wait blocks until every download has ended.
func (b *blobStore) wait() { b.wg.Wait() }
