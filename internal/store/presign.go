package store

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
)

// Redirects to the store (store_redirect, issue 15): a client that can
// reach the store is sent a short-lived presigned GET URL of a blob the
// store holds, and reads the bytes from the store itself, as
// distribution's S3 driver does.

// presigner is a store that signs GET URLs of its objects, as
// *objstore.Store does. It is asked of the cache's Remote rather than
// being part of it, so that a Remote that cannot sign (a test's fake)
// simply redirects nothing.
type presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error)
}

var _ presigner = (*objstore.Store)(nil)

// heldFor is how long StoreLinks trusts that the store holds a blob it
// found there, so that the requests of one pull (and pulls of the same
// image soon after) do not ask the store again. A blob deleted from the
// store meanwhile (evicted, or found damaged by another mirror) gets a
// URL the store answers 404 to for at most that long; a version of a
// blob this mirror found damaged is never redirected to.
const heldFor = time.Minute

// maxHeld bounds the blobs StoreLinks remembers. When it is full,
// expired entries are dropped, and all of them when none has expired: a
// forgotten blob costs one Stat, never a wrong answer.
const maxHeld = 4096

// StoreLinks hands out presigned GET URLs of the blobs in the store
// behind a cache. It is safe for concurrent use.
type StoreLinks struct {
	b    *Blobs
	sign presigner
	now  func() time.Time // time.Now; tests move it

	mu   sync.Mutex
	held map[digest.Digest]heldBlob
}

// heldBlob is a blob seen in the store: its version, and when it was
// seen.
type heldBlob struct {
	etag  string
	seen  time.Time
	stamp time.Time // its last-use stamp (LastModified) then
}

// StoreLinks returns the presigned URLs of b's store, or nil when the
// cache has no store behind it or its store cannot sign URLs. A nil
// *StoreLinks hands out no URL.
func (b *Blobs) StoreLinks() *StoreLinks {
	p, ok := b.cache.remote.(presigner)
	if !ok {
		return nil
	}
	return &StoreLinks{b: b, sign: p, now: time.Now, held: map[digest.Digest]heldBlob{}}
}

// URL returns a presigned GET URL of d's blob in the store, valid for
// ttl. ok is false when the store does not hold the blob, holds a version
// this mirror found damaged, or cannot be asked: the caller then serves
// the blob itself. The URL is a credential: it must not be logged.
func (l *StoreLinks) URL(ctx context.Context, d digest.Digest, ttl time.Duration) (u *url.URL, ok bool) {
	h, ok := l.holds(ctx, d)
	if !ok {
		return nil, false
	}
	u, err := l.sign.PresignGet(ctx, blobKey(d), ttl)
	if err != nil {
		if ctx.Err() == nil {
			l.b.cache.stats.RemoteErrors.Add(1)
			// err names the object, never the signature.
			l.b.log.Warn("cannot sign a URL of a blob in the store: serving it from here", "digest", string(d), "err", err)
		}
		return nil, false
	}
	// A redirected GET is a use of the store's copy, as a GET served here
	// is: without its stamp, store_max would evict the blobs clients are
	// sent to most.
	l.b.keeper.served(d, h.stamp)
	return u, true
}

// Holds reports whether the store holds a good copy of d: from what was
// seen within heldFor, else from a Stat, whose answer URL then reuses. A
// nil *StoreLinks holds nothing.
func (l *StoreLinks) Holds(ctx context.Context, d digest.Digest) bool {
	_, ok := l.holds(ctx, d)
	return ok
}

// holds is Holds, with what is known of the store's copy.
func (l *StoreLinks) holds(ctx context.Context, d digest.Digest) (heldBlob, bool) {
	if l == nil {
		return heldBlob{}, false
	}
	now := l.now()
	l.mu.Lock()
	h, seen := l.held[d]
	if seen && now.Sub(h.seen) >= heldFor {
		delete(l.held, d)
		seen = false
	}
	l.mu.Unlock()
	if seen {
		if !l.b.damageNoted(d) {
			return h, true
		}
		// Found damaged since, or before: the Stat below tells which
		// version the store holds now.
		l.forget(d)
	}
	sctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	info, err := l.b.cache.remote.Stat(sctx, blobKey(d))
	cancel()
	switch {
	case errors.Is(err, objstore.ErrNotFound), err != nil && ctx.Err() != nil:
		return heldBlob{}, false
	case err != nil:
		l.b.cache.stats.RemoteErrors.Add(1)
		l.b.log.Warn("cannot look for a blob in the store: serving it from here", "digest", string(d), "err", err)
		return heldBlob{}, false
	case l.b.damagedInStore(d, info.ETag):
		return heldBlob{}, false
	}
	h = heldBlob{etag: info.ETag, seen: now, stamp: info.LastModified}
	l.remember(d, h)
	return h, true
}

// remember notes that the store holds d, keeping at most maxHeld blobs.
func (l *StoreLinks) remember(d digest.Digest, h heldBlob) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) >= maxHeld {
		for k, v := range l.held {
			if h.seen.Sub(v.seen) >= heldFor {
				delete(l.held, k)
			}
		}
		if len(l.held) >= maxHeld {
			clear(l.held)
		}
	}
	l.held[d] = h
}

// damageNoted reports whether any version of d's store object was found
// not to match its digest.
func (b *Blobs) damageNoted(d digest.Digest) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.damaged[d]
	return ok
}

// forget drops what was seen of d.
func (l *StoreLinks) forget(d digest.Digest) {
	l.mu.Lock()
	delete(l.held, d)
	l.mu.Unlock()
}
