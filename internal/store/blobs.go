package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// Blobs serves blobs from a Cache and runs one download per uncached
// blob, which every client asking for that blob reads as it grows. Its
// methods are safe for concurrent use.
type Blobs struct {
	cache  *Cache
	log    *slog.Logger
	tune   Tuning
	seg    segmenting
	onKept func()
	ctx    context.Context // downloads run in it; cancelled when the mirror stops
	wg     sync.WaitGroup  // running downloads, uploads to the store and their cleanups

	// uploads holds a token per upload to the store running now.
	uploads chan struct{}
	// uploadReader, when set (by tests), wraps the file an upload reads,
	// before the bytes are hashed.
	uploadReader func(io.Reader) io.Reader
	// keeper writes the last-use stamps of the store behind the cache
	// and keeps it under store_max (storemax.go); nil without a store.
	keeper *keeper

	mu        sync.Mutex
	downloads map[digest.Digest]*download
	// damaged are blobs whose store object, in the version (ETag) noted,
	// did not match the digest: their downloads go upstream.
	damaged map[digest.Digest]string
}

// Tuning is how a download rides out a bad upstream connection: a body
// that sends nothing for StallTimeout is cut, and the download resumes
// where it was, at most MaxResumes times, the n-th resume after n times
// ResumeDelay.
type Tuning struct {
	StallTimeout time.Duration
	MaxResumes   int
	ResumeDelay  time.Duration
}

// DefaultTuning is what the mirror runs with.
func DefaultTuning() Tuning {
	return Tuning{StallTimeout: 60 * time.Second, MaxResumes: 5, ResumeDelay: 200 * time.Millisecond}
}

// BlobsConfig is what NewBlobs needs besides the cache.
type BlobsConfig struct {
	// Log gets the downloads' and the evictions' lines; slog.Default()
	// when nil.
	Log *slog.Logger
	// Tuning is how downloads resume; the zero Tuning is DefaultTuning.
	Tuning Tuning
	// OnKept, when not nil, is called after a download was kept in the
	// cache: the disk took it.
	OnKept func()
	// DownloadConnections is how many parallel Range requests fetch a blob
	// larger than SegmentThreshold from upstream; 0 or 1 fetches every
	// blob over one connection, its first request without a Range.
	DownloadConnections int
	// DownloadChunk is the size of each of those requests; 0 is 8 MiB
	// (segfetch.DefaultChunk).
	DownloadChunk int64
	// SegmentThreshold is the size above which a blob is split; 0 is
	// 16 MiB (segfetch.DefaultThreshold).
	SegmentThreshold int64
}

// NewBlobs returns the blob store of c. Downloads run in ctx: when it
// ends they stop, and Wait returns once they all have.
func NewBlobs(ctx context.Context, c *Cache, cfg BlobsConfig) *Blobs {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Tuning == (Tuning{}) {
		cfg.Tuning = DefaultTuning()
	}
	b := &Blobs{
		cache: c, log: cfg.Log, tune: cfg.Tuning, onKept: cfg.OnKept, ctx: ctx, downloads: map[digest.Digest]*download{},
		seg:     newSegmenting(cfg.DownloadConnections, cfg.DownloadChunk, cfg.SegmentThreshold),
		uploads: make(chan struct{}, uploadSlots), damaged: map[digest.Digest]string{},
	}
	b.keeper = newKeeper(ctx, b)
	return b
}

// Reader is a client's view of one blob: its own file handle on either
// the cached file or a download's temp file. Close it when done: until
// then the blob is not evicted.
type Reader struct {
	file *os.File
	dl   *download // nil when the blob is cached
	size int64     // -1 while unknown
	// started is true for the request whose miss started the download.
	started bool
	release func() // ends the reader's hold on the blob
}

// Size is the blob's size in bytes; -1 when upstream announced none.
func (br *Reader) Size() int64 { return br.size }

// FromCache reports whether the request is a cache hit: the blob is
// cached, or another request's download of it has already been verified.
// Then File holds every byte, verified.
func (br *Reader) FromCache() bool {
	return br.dl == nil || (!br.started && br.dl.verified())
}

// File is the reader's own handle on the blob's file, for sending it
// (with sendfile) when FromCache, and for reading back what a download
// has written so far.
func (br *Reader) File() *os.File { return br.file }

// CopyTo sends bytes [from, to) of the blob to w (to < 0: up to the end)
// as they arrive from upstream. The last byte of a download goes out only
// once the whole blob has matched its digest, so a client never gets a
// complete body that is wrong: it sees the error instead. An error
// wrapping ErrCacheWrite means the cache's disk failed the download: what
// is not sent yet has to come from upstream some other way.
func (br *Reader) CopyTo(ctx context.Context, w io.Writer, from, to int64) (int64, error) {
	if br.dl == nil {
		if to < 0 {
			to = br.size
		}
		return io.Copy(w, io.NewSectionReader(br.file, from, to-from))
	}
	return br.dl.copyTo(ctx, w, br.file, from, to)
}

// Close closes the reader's file handle and lets the blob be evicted.
func (br *Reader) Close() error {
	br.release()
	return br.file.Close()
}

// FromStore reports whether the blob's bytes come from the store behind
// the cache (a download that reads it there), not from upstream.
func (br *Reader) FromStore() bool {
	if br.dl == nil {
		return false
	}
	some, _ := br.dl.src.fromStore()
	return some
}

// Open returns a reader for d, starting a download with open when the
// blob is neither cached nor being downloaded; with a store behind the
// cache, a download reads the blob from the store when the store has it,
// and open is not called. It waits until upstream (or the store) has
// answered, so an upstream error reaches the caller as an error. An error
// wrapping ErrCacheWrite means the cache directory cannot take the blob:
// serve it straight from upstream.
func (b *Blobs) Open(ctx context.Context, d digest.Digest, open OpenFunc) (*Reader, error) {
	var dl *download
	started := false
	for try := 0; dl == nil; try++ {
		if br, err := b.OpenCached(d); err == nil {
			b.keeper.served(d, time.Time{}) // a GET from the cache directory: the store's copy is in use too
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
		if dl, err = b.startLocked(d, open); err != nil {
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
	return &Reader{file: f, dl: dl, size: dl.size, started: started, release: release}, nil
}

// OpenCached opens d's cached file, after checking it against the digest
// when this version of the file was not checked yet (see verify.go). A
// damaged file is removed and reported as not there (the error wraps
// fs.ErrNotExist), so callers fetch the blob again.
func (b *Blobs) OpenCached(d digest.Digest) (*Reader, error) {
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
	return &Reader{file: f, size: info.Size(), release: func() { ix.release(d) }}, nil
}

// DownloadSize is the size upstream announced for the running download
// of d. ok is false when none runs, upstream has not answered it yet,
// refused it, or announced no size.
func (b *Blobs) DownloadSize(d digest.Digest) (size int64, ok bool) {
	b.mu.Lock()
	dl := b.downloads[d]
	b.mu.Unlock()
	if dl == nil {
		return -1, false
	}
	select {
	case <-dl.ready:
		if dl.startErr == nil && dl.size >= 0 {
			return dl.size, true
		}
	default:
	}
	return -1, false
}

// startLocked registers and starts a download. b.mu is held.
func (b *Blobs) startLocked(d digest.Digest, open OpenFunc) (*download, error) {
	if err := b.ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: the mirror is stopping", oci.ErrUnreachable)
	}
	tmp, err := b.cache.createTemp("blob-*")
	if err != nil {
		// The path stays in the log; the client learns only that the blob
		// comes straight from upstream.
		b.log.Warn("cannot start a download in the cache directory; streaming without keeping", "digest", string(d), "err", err)
		return nil, fmt.Errorf("blob %s: %w", d, ErrCacheWrite)
	}
	tmp.Close()
	dl := newDownload(d, tmp.Name(), b.tune, b.seg)
	dl.makeRoom = b.makeRoom
	if b.cache.remote != nil {
		dl.src = &origin{b: b, d: d, upstream: open}
		open = dl.src.open
	}
	b.downloads[d] = dl
	b.cache.index.acquire(d) // the download itself; released in finish
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		dl.run(b.ctx, open, b.cache.stats, b.log, func(err error) error { return b.finish(dl, err) })
	}()
	return dl, nil
}

// finish unregisters a download and, when it succeeded, moves its verified
// file into the cache. Both happen under b.mu, so a client either joins the
// download or finds the cached file.
//
// With a store behind the cache, a blob verified from upstream is then
// uploaded to the store, and one from the store that did not match its
// digest is deleted there.
func (b *Blobs) finish(dl *download, err error) error {
	gone, kept, up, err := b.finishLocked(dl, err)
	if kept && b.onKept != nil {
		b.onKept()
	}
	some, all := dl.src.fromStore()
	switch {
	case err == nil && all:
		b.cache.stats.RemoteHits.Add(1)
	case some && errors.Is(err, oci.ErrDigestMismatch):
		b.storeDamaged(dl.src)
	}
	if up != nil {
		b.wg.Add(1)
		go b.upload(*up)
	}
	b.evict(gone) // file I/O, outside the lock
	return err
}

// finishLocked is finish's work under b.mu. It returns the blobs to
// evict, whether the blob was kept, and the upload to the store to start,
// if any: one for every verified blob from upstream when the cache has a
// store, kept here or not (a blob over cache_max is uploaded from its
// temp file, which goes when the upload is over).
func (b *Blobs) finishLocked(dl *download, err error) (gone []digest.Digest, kept bool, up *pendingUpload, _ error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.downloads, dl.digest)
	ix := b.cache.index
	defer ix.release(dl.digest)
	_, allStore := dl.src.fromStore()
	toStore := err == nil && b.cache.remote != nil && !allStore
	if err == nil && !ix.fits(dl.written) {
		b.log.Info("blob larger than cache_max: served, not kept", "digest", string(dl.digest), "bytes", dl.written)
		if toStore {
			if up = b.pendingUpload(dl, dl.tmp, func() { b.removeTemp(dl.tmp) }); up != nil {
				return nil, false, up, nil
			}
		}
		b.removeTemp(dl.tmp)
		return nil, false, nil, nil
	}
	if err == nil {
		path := b.cache.blobPath(dl.digest)
		if err = b.cache.commit(dl.tmp, path); err == nil {
			b.cache.stats.CacheBytes.Add(dl.written)
			gone := ix.add(dl.digest, dl.written)
			if info, err := os.Stat(path); err == nil {
				ix.markVerified(dl.digest, versionOf(info)) // hashed on the way in
			}
			if toStore {
				// Held while it uploads: not evicted under the upload.
				ix.acquire(dl.digest)
				if up = b.pendingUpload(dl, path, func() { ix.release(dl.digest) }); up == nil {
					ix.release(dl.digest)
				}
			}
			return gone, true, up, nil
		}
	}
	b.removeTemp(dl.tmp)
	return nil, false, nil, err
}

// pendingUpload opens the verified file of dl at path for its upload to
// the store; done runs when the upload is over. It is nil when the file
// cannot be opened: then the blob is not uploaded, and that is counted.
func (b *Blobs) pendingUpload(dl *download, path string, done func()) *pendingUpload {
	f, err := os.Open(path)
	if err != nil {
		b.cache.stats.RemoteUploadFailures.Add(1)
		b.log.Warn("cannot upload a blob to the store", "digest", string(dl.digest), "err", err)
		return nil
	}
	return &pendingUpload{d: dl.digest, file: f, size: dl.written, done: done}
}

// removeTemp removes a download's temp file.
func (b *Blobs) removeTemp(tmp string) {
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Warn("remove temp file", "err", err)
	}
}

// makeRoom frees at least need bytes, and a few MiB more, by evicting the
// least recently used blobs that are not in use, after a write found the
// disk full. It reports whether anything was freed.
func (b *Blobs) makeRoom(need int64) bool {
	ix := b.cache.index
	gone := ix.over(max(ix.size()-need-roomSlack, 0))
	if len(gone) == 0 {
		b.log.Warn("the cache's disk is full and nothing can be evicted")
		return false
	}
	freed, err := b.cache.removeBlobs(gone)
	b.cache.stats.CacheBytes.Add(-freed)
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
func (b *Blobs) evict(gone []digest.Digest) {
	if len(gone) == 0 {
		return
	}
	freed, err := b.cache.removeBlobs(gone)
	b.cache.stats.CacheBytes.Add(-freed)
	b.log.Info("evicted least recently used blobs for cache_max", "blobs", len(gone), "bytes", freed)
	if err != nil {
		b.log.Warn("evict", "err", err)
	}
}

// Wait blocks until every download has ended, and the uploads to the
// store that finished downloads started.
func (b *Blobs) Wait() { b.wg.Wait() }
