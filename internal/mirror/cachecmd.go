package mirror

import (
	"context"
	"errors"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/upstream"
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

// Prefetch pulls ref through the running mirror into its cache, as
// `hubmirror prefetch` does; progress gets blob bytes done and total.
func (m *Mirror) Prefetch(ctx context.Context, ref string, progress func(done, total int64)) error {
	r, err := ParseRef(ref)
	if err != nil {
		return err
	}
	m.mu.Lock()
	addr, token := m.addr, m.token
	m.mu.Unlock()
	if addr == "" {
		return errNotRunning
	}
	_, err = Prefetch(ctx, upstream.NewHTTPClient(nil), "http://"+clientsetup.ClientHost(addr), r, nil, "Bearer "+token, progress)
	return err
}
