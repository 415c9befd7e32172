package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
)

// The store behind the cache (issue 15): an S3-compatible bucket shared
// by several mirrors, with the cache directory as a bounded read-through
// cache in front of it. Its keys are the cache's own layout (blobKey,
// manifestKey, tagKey) under the store's prefix.
//
// Blobs. A download of a blob the cache lacks reads it from the store
// when the store has it (ranged GETs, in parallel for a large blob as
// from upstream), through the same download as from upstream: one per
// blob, its bytes hashed on the way in, the file kept only when it
// matches the digest, the directory bounded by cache_max. A store object
// that does not match is refused (the download fails as for a corrupt
// upstream), counted and deleted from the store, and the next request
// for the blob goes upstream. A download from upstream that was verified
// is uploaded to the store afterwards, off the clients' path, with
// objstore's PutAtomic: to uploads/, its digest checked again as it is
// read, then copied to the blob's key only if no object is there. A
// failed upload is logged and counted; the local copy stays.
//
// Across mirrors: a mirror that misses while another is still uploading
// the same blob does not find it under its key (uploads appear there
// only when complete), so it fetches the blob from upstream itself and
// uploads it too; the second upload to finish finds the key taken and
// leaves the first in place. The upstream bytes are paid twice for a
// blob pulled at once through two mirrors, never a wrong or partial
// object.
//
// Manifests and tag records are written to the store after they are
// written here, by one writer per cache in the order they were written
// (recordQueue), and read from it when the directory lacks them, so a
// mirror with an empty cache directory serves a cached tag offline.

// Remote is the object store behind a cache: *objstore.Store, or a fake
// in tests. Keys are relative to the store's prefix; errors wrap
// objstore.ErrNotFound, ErrExists and ErrChanged as objstore's do.
type Remote interface {
	Stat(ctx context.Context, key string) (objstore.Info, error)
	Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	PutAtomic(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error)
	Create(ctx context.Context, key string, data []byte, meta map[string]string) (objstore.Info, error)
	Update(ctx context.Context, key string, data []byte, meta map[string]string, etag string) (objstore.Info, error)
	Put(ctx context.Context, key string, data []byte, meta map[string]string) (objstore.Info, error)
	SetMeta(ctx context.Context, key string, meta map[string]string) (objstore.Info, error)
	Delete(ctx context.Context, key string) error
	List(ctx context.Context, prefix string) iter.Seq2[objstore.Info, error]
}

var _ Remote = (*objstore.Store)(nil)

// remoteTimeout bounds one small request to the store: a stat, a
// manifest or tag record read or written. Reads of blob bytes are bounded
// by the download's stall timeout instead.
const remoteTimeout = 10 * time.Second

// uploadSlots is how many blobs are uploaded to the store at once. An
// upload buffers up to one part (16 MiB) in memory.
const uploadSlots = 4

// origin is where one download's bytes come from when the cache has a
// store behind it: the store, when it holds the blob, else upstream. It
// decides at the download's first request, and is the download's
// OpenFunc. A store request that fails (not a digest mismatch: that is
// found at the end) sends the rest of the download upstream, from the
// byte it got to: a blob's bytes are the same wherever they come from.
type origin struct {
	b        *Blobs
	d        digest.Digest
	upstream OpenFunc
	once     sync.Once // decide

	mu     sync.Mutex
	store  bool   // requests go to the store
	used   bool   // a store request answered: some bytes came from it
	direct bool   // a request went upstream
	size   int64  // the store object's size
	etag   string // its version, to delete it if it is damaged
}

// open is the download's OpenFunc: bytes [from, end) from the store or
// upstream.
func (o *origin) open(ctx context.Context, from, end int64) (Body, error) {
	o.once.Do(func() { o.decide(ctx) })
	o.mu.Lock()
	store, size := o.store, o.size
	o.mu.Unlock()
	if store {
		body, err := o.get(ctx, from, end, size)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return Body{}, ctx.Err()
		}
		o.b.cache.stats.RemoteErrors.Add(1)
		o.b.log.Warn("reading a blob from the store failed: the rest comes from upstream", "digest", string(o.d), "from", from, "err", err)
		o.mu.Lock()
		o.store = false
		o.mu.Unlock()
	}
	o.mu.Lock()
	o.direct = true
	o.mu.Unlock()
	return o.upstream(ctx, from, end)
}

// decide looks for the blob in the store.
func (o *origin) decide(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	info, err := o.b.cache.remote.Stat(sctx, blobKey(o.d))
	cancel()
	switch {
	case err == nil && o.b.damagedInStore(o.d, info.ETag):
		// Found damaged before and not deleted: upstream it is.
	case err == nil:
		o.mu.Lock()
		o.store, o.size, o.etag = true, info.Size, info.ETag
		o.mu.Unlock()
		o.b.keeper.served(o.d, info.LastModified)
	case errors.Is(err, objstore.ErrNotFound), ctx.Err() != nil:
	default:
		o.b.cache.stats.RemoteErrors.Add(1)
		o.b.log.Warn("cannot look for a blob in the store: fetching it from upstream", "digest", string(o.d), "err", err)
	}
}

// get reads bytes [from, end) of the store's object of size bytes (end
// < 0: to its end) as a Body, as upstream would answer the same request.
func (o *origin) get(ctx context.Context, from, end, size int64) (Body, error) {
	if from >= size {
		return Body{ReadCloser: io.NopCloser(strings.NewReader("")), Start: size, Size: size, store: true}, nil
	}
	n := int64(-1)
	body := Body{Start: from, Size: size, store: true}
	if end >= 0 {
		end = min(end, size)
		n, body.End = end-from, end
	}
	r, err := o.b.cache.remote.Get(ctx, blobKey(o.d), from, n)
	if err != nil {
		return Body{}, err
	}
	o.mu.Lock()
	o.used = true
	o.mu.Unlock()
	body.ReadCloser = r
	return body, nil
}

// fromStore reports whether bytes of the download came from the store,
// and whether all of them did.
func (o *origin) fromStore() (some, all bool) {
	if o == nil {
		return false, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.used, o.used && !o.direct
}

// name is where the download's bytes came from, for its errors.
func (o *origin) name() string {
	if some, _ := o.fromStore(); some {
		return "the store"
	}
	return "upstream"
}

// damagedInStore reports whether d's store object in version etag was
// found not to match its digest.
func (b *Blobs) damagedInStore(d digest.Digest, etag string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	bad, ok := b.damaged[d]
	return ok && bad == etag
}

// storeDamaged handles a download from the store that did not match its
// digest: the version read is remembered, so the next download of d goes
// upstream, and deleted from the store if it is still there.
func (b *Blobs) storeDamaged(o *origin) {
	b.mu.Lock()
	b.damaged[o.d] = o.etag
	b.mu.Unlock()
	b.cache.stats.RemoteDamaged.Add(1)
	b.log.Warn("a blob in the store did not match its digest: deleted from the store, it will be fetched from upstream", "digest", string(o.d))
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(b.ctx, remoteTimeout)
		defer cancel()
		key := blobKey(o.d)
		// Only the version that was read: another mirror may have put a
		// good one in its place (a small window remains between the two
		// requests; S3 has no conditional delete that every server knows).
		if info, err := b.cache.remote.Stat(ctx, key); err != nil || info.ETag != o.etag {
			return
		}
		if err := b.cache.remote.Delete(ctx, key); err != nil {
			b.cache.stats.RemoteErrors.Add(1)
			b.log.Warn("cannot delete a damaged blob from the store", "digest", string(o.d), "err", err)
		}
	}()
}

// pendingUpload is a verified blob from upstream waiting to go to the
// store: its open file and what to do when the upload is over.
type pendingUpload struct {
	d    digest.Digest
	file *os.File
	size int64
	done func()
}

// upload sends a verified blob to the store, at most uploadSlots at once.
// It runs after the download was committed and its readers were given
// every byte, on b's wait group. The bytes are hashed again as they are
// read, so what appears under the digest's key is what the digest names
// whatever happened to the file meanwhile.
func (b *Blobs) upload(u pendingUpload) {
	defer b.wg.Done()
	defer u.done()
	defer u.file.Close()
	st := b.cache.stats
	select {
	case b.uploads <- struct{}{}:
		defer func() { <-b.uploads }()
	case <-b.ctx.Done():
		st.RemoteUploadFailures.Add(1)
		b.log.Info("blob not uploaded to the store: the mirror is stopping", "digest", string(u.d))
		return
	}
	key := blobKey(u.d)
	sctx, cancel := context.WithTimeout(b.ctx, remoteTimeout)
	_, err := b.cache.remote.Stat(sctx, key)
	cancel()
	if err == nil {
		return // another mirror uploaded it meanwhile
	}
	if !b.keeper.reserve(b.ctx, u.d, u.size) {
		return // the store is full: counted and logged
	}
	var src io.Reader = io.NewSectionReader(u.file, 0, u.size)
	if b.uploadReader != nil {
		src = b.uploadReader(src)
	}
	v := u.d.Verifier()
	r := io.TeeReader(src, v)
	start := time.Now()
	info, err := b.cache.remote.PutAtomic(b.ctx, key, r, u.size, objstore.PutOptions{
		ContentType: "application/octet-stream",
		IfAbsent:    true,
		Verify: func() error {
			if !v.Verified() {
				return fmt.Errorf("blob %s: the bytes uploaded do not match the digest; not stored", u.d)
			}
			return nil
		},
	})
	b.keeper.uploaded(key, u.size, info, err == nil)
	switch {
	case err == nil:
		st.RemoteUploads.Add(1)
		b.log.Debug("blob uploaded to the store", "digest", string(u.d), "bytes", u.size, "took", time.Since(start).Round(time.Millisecond))
	case errors.Is(err, objstore.ErrExists):
		b.log.Debug("blob already in the store", "digest", string(u.d))
	default:
		st.RemoteUploadFailures.Add(1)
		b.log.Warn("cannot upload a blob to the store: it stays in the cache directory only", "digest", string(u.d), "bytes", u.size, "err", err)
	}
}

// reupload uploads the cache directory's copy of the blob under key to
// the store, which lacks it, as an upload after a download would: held
// in the cache while it uploads, hashed again on the way.
func (b *Blobs) reupload(key string) {
	d, ok := parseBlobKey(key)
	if !ok || b.ctx.Err() != nil {
		return
	}
	ix := b.cache.index
	ix.acquire(d)
	f, err := os.Open(b.cache.blobPath(d))
	if err != nil {
		ix.release(d) // evicted here meanwhile: nothing to upload
		return
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		ix.release(d)
		return
	}
	b.log.Info("blob served from the cache directory is not in the store: uploading it", "digest", string(d))
	b.wg.Add(1)
	go b.upload(pendingUpload{d: d, file: f, size: info.Size(), done: func() { ix.release(d) }})
}

// StoreSize is the size of d's blob in the store behind the cache, for a
// HEAD the cache cannot answer. ok is false without a store, when the
// store does not have the blob, or cannot be asked.
func (b *Blobs) StoreSize(ctx context.Context, d digest.Digest) (size int64, ok bool) {
	if b.cache.remote == nil {
		return -1, false
	}
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	info, err := b.cache.remote.Stat(ctx, blobKey(d))
	if err != nil || b.damagedInStore(d, info.ETag) {
		if err != nil && !errors.Is(err, objstore.ErrNotFound) && ctx.Err() == nil {
			b.cache.stats.RemoteErrors.Add(1)
		}
		return -1, false
	}
	return info.Size, true
}
