package mirror

import (
	"context"
	"errors"

	"github.com/hubmirror/hubmirror/internal/store"
)

// CachedImage is a tag the cache can serve, with the bytes it holds for
// it (package store).
type CachedImage = store.CachedImage

// ErrCacheInUse is returned when another hubmirror holds the cache
// directory's lock (package store).
var ErrCacheInUse = store.ErrCacheInUse

// CacheUsage is how full the cache is.
type CacheUsage struct {
	Bytes, Limit int64 // blob bytes kept and the most that may be kept (0: none set)
	Blobs        int
}

// CacheUsage returns how full the running mirror's cache is.
func (m *Mirror) CacheUsage() CacheUsage {
	m.mu.Lock()
	c, limit := m.cache, m.cfg.CacheMax
	m.mu.Unlock()
	u := CacheUsage{Limit: limit}
	if c != nil {
		u.Bytes, u.Blobs = c.Usage()
	}
	return u
}

// errNotRunning is returned by cache operations of a stopped mirror.
var errNotRunning = errors.New("the mirror is not running: start it first")

// VerifyCache hashes every cached blob of the running mirror again, as
// the cache command does, and returns the digests of the corrupt ones,
// removed.
func (m *Mirror) VerifyCache(progress func(done, total int)) ([]string, error) {
	m.mu.Lock()
	c := m.cache
	m.mu.Unlock()
	if c == nil {
		return nil, errNotRunning
	}
	bad, err := c.Verify(progress)
	return digestStrings(bad), err
}

// ClearCache empties the running mirror's cache. Downloads in progress
// finish into the empty cache.
func (m *Mirror) ClearCache() error {
	m.mu.Lock()
	c := m.cache
	m.mu.Unlock()
	if c == nil {
		return errNotRunning
	}
	err := c.Clear()
	m.changed()
	return err
}

// Prefetch fetches ref (every platform of it) into the running mirror's
// cache, as `hubmirror prefetch` does; progress gets blob bytes done and
// total. See PrefetchImage.
func (m *Mirror) Prefetch(ctx context.Context, ref string, progress func(done, total int64)) error {
	r, err := ParseRef(ref)
	if err != nil {
		return err
	}
	_, err = m.PrefetchImage(ctx, r, nil, progress)
	return err
}

// PrefetchImage fetches ref into the running mirror's cache in-process,
// through the paths a pull takes, with the mirror's own upstream account:
// the manifest; for a multi-platform image the manifests of the platforms
// wanted ("linux/amd64"; all when none are given); and their configs and
// layers, each download awaited until verified. progress, when not nil,
// gets the blob bytes read so far and the total, as they arrive. It ends
// when ctx ends or the mirror stops.
func (m *Mirror) PrefetchImage(ctx context.Context, ref Ref, platforms []string, progress func(done, total int64)) (PrefetchResult, error) {
	m.mu.Lock()
	s := m.engine
	if s != nil {
		m.own.Add(1) // under m.mu: Stop clears m.engine before it waits
	}
	m.mu.Unlock()
	if s == nil {
		return PrefetchResult{}, errNotRunning
	}
	defer m.own.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	return s.fetchImage(ctx, ref, platforms, progress)
}
