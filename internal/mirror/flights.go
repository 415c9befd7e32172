package mirror

import (
	"context"
	"net/http"
	"sync"

	"github.com/hubmirror/hubmirror/internal/upstream"
)

// Requests to upstream that concurrent clients share. What is shared is
// the mirror's manifest policy, not the upstream client's: a revalidation
// is a HEAD of a cached tag with the mirror's own short deadline, whose
// outcome decides whether the cache answers; a manifest fetch is a GET that
// is verified and cached before its answer is shared. So the keys and the
// answers are this package's, and the groups live on each registry
// (upstreams.go); the upstream client is told how revalidations went
// (NoteRevalidation) and keeps the registry's health.

// revalKey names one tag revalidation: concurrent requests with the same
// key share one upstream HEAD. identity is the upstream token the request
// acts with (nil: the mirror's own), so nothing is shared between users
// under self_auth. The registry is the group's. The same key, with the
// digest in place of the tag, names one fetch of a manifest by digest
// (registry.manifestFetches).
type revalKey struct {
	repo, tag, accept string
	identity          *upstream.UserToken
}

// headResult is upstream's answer to a revalidation HEAD: the manifest it
// described, or why not (err, with the status when upstream answered).
type headResult struct {
	m   upstream.Manifest
	err error
}

// status is the HTTP status upstream answered the HEAD with; 0 when it did
// not answer.
func (h headResult) status() int {
	if h.err == nil {
		return http.StatusOK
	}
	return upstream.StatusOf(h.err)
}

// flights runs one call per key at a time; callers that come while it
// runs wait for its result. The call runs detached from any one caller, so
// a caller that goes away does not fail the others.
type flights[K comparable, V any] struct {
	mu     sync.Mutex
	m      map[K]*flight[V]
	onJoin func() // tests: called when a caller waits for a running flight
}

type flight[V any] struct {
	done chan struct{}
	res  V
}

// flightGroup runs one revalidation HEAD per key at a time.
type flightGroup = flights[revalKey, headResult]

// do returns fn's result for key, running fn unless it already runs for
// key. It returns ctx's error when ctx ends first.
func (g *flights[K, V]) do(ctx context.Context, key K, fn func() V) (V, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[K]*flight[V]{}
	}
	f, running := g.m[key]
	if !running {
		f = &flight[V]{done: make(chan struct{})}
		g.m[key] = f
		go func() {
			defer close(f.done)
			f.res = fn()
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
		}()
	}
	onJoin := g.onJoin
	g.mu.Unlock()
	if running && onJoin != nil {
		onJoin()
	}
	select {
	case <-f.done:
		return f.res, nil
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
