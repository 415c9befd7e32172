package mirror

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// How long tag revalidation and the health probe wait for upstream, and how
// the probe backs off: from probeFirst to every probeMax, while a problem is
// shown (no probe runs otherwise). Variables so that tests can shorten them; each
// upstream copies them when it is made.
var (
	revalidateTimeout = 3 * time.Second
	probeTimeout      = 3 * time.Second
	probeFirst        = time.Second
	probeMax          = 30 * time.Second
)

// quickFailuresToDegrade is how many revalidations in a row must fail
// promptly (refused, 5xx, 429) before cached tags are served without asking.
// One that runs into the deadline is enough: it already made a client wait.
const quickFailuresToDegrade = 2

// health is what an upstream's recent answers say about it. While it is
// degraded, cached tags are served from the cache at once, and a probe
// (GET /v2/, backing off) finds out when upstream answers again.
type health struct {
	revalidateTimeout, probeTimeout, probeFirst, probeMax time.Duration
	wake                                                  chan struct{} // probes at once (tests)

	mu         sync.Mutex
	quickFails int   // revalidations in a row that failed promptly
	degraded   bool  // serve cached tags without asking upstream
	cause      error // the failure that degraded it
	probing    bool  // a probe loop runs
}

func newHealth() *health {
	return &health{
		revalidateTimeout: revalidateTimeout, probeTimeout: probeTimeout,
		probeFirst: probeFirst, probeMax: probeMax,
		wake: make(chan struct{}, 1),
	}
}

// cacheFirst reports whether cached tags are to be served without asking
// upstream, and why (an error that wraps ErrUnreachable or
// ErrTooManyRequests).
func (h *health) cacheFirst() (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.degraded {
		return false, nil
	}
	return true, fmt.Errorf("not asked, as it failed recently: %w", h.cause)
}

// failed notes a revalidation that upstream failed (err wraps
// ErrUnreachable or ErrTooManyRequests) and reports whether the upstream is
// now degraded.
func (h *health) failed(err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.quickFails++
	if timedOut(err) || h.quickFails >= quickFailuresToDegrade {
		h.degraded, h.cause = true, err
	}
	return h.degraded
}

// answered notes that upstream answered (any status but 5xx and 429).
func (h *health) answered() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.quickFails, h.degraded, h.cause = 0, false, nil
}

// timedOut reports whether err is a deadline or a network timeout.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// upstreamFailed reports whether err says upstream failed, rather than
// that it answered (404, 401, 400) or that the client went away.
func upstreamFailed(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTooManyRequests)
}

// ensureProbe starts the probe loop of a degraded upstream, or of one with
// a problem shown in the status, unless one runs. It runs until upstream
// answers or ctx (the mirror's) ends.
func (u *upstream) ensureProbe(ctx context.Context) {
	h := u.health
	shown := u.stats.hasProblem(u.registry)
	h.mu.Lock()
	start := (h.degraded || shown) && !h.probing && ctx.Err() == nil
	h.probing = h.probing || start
	h.mu.Unlock()
	if start {
		go u.probeLoop(ctx)
	}
}

func (u *upstream) probeLoop(ctx context.Context) {
	h := u.health
	wait := h.probeFirst
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-h.wake:
		case <-t.C:
		}
		t.Stop()
		up := ctx.Err() == nil && u.probe(ctx)
		shown := u.stats.hasProblem(u.registry)
		h.mu.Lock()
		if up {
			h.quickFails, h.degraded, h.cause = 0, false, nil
		}
		if up || !(h.degraded || shown) || ctx.Err() != nil {
			h.probing = false
			h.mu.Unlock()
			if up {
				u.stats.upstreamProblem(u.registry, "")
			}
			if ctx.Err() == nil && u.stats.hasProblem(u.registry) {
				u.ensureProbe(ctx) // noted while this loop was ending
			}
			return
		}
		h.mu.Unlock()
		wait = min(2*wait, h.probeMax)
	}
}

// noteFailure shows a problem in the status when err says upstream failed
// (unreachable, 5xx, 429) while the client still waited, unless a more
// telling one is shown; the probe then watches upstream until it answers.
func (u *upstream) noteFailure(ctx context.Context, err error) {
	if err == nil || !upstreamFailed(err) || ctx.Err() != nil {
		return
	}
	if errors.Is(err, ErrTooManyRequests) {
		u.stats.upstreamFailure(u.registry, u.describe()+" is rate limiting this mirror (429); cached images still pull. Log in with a Docker Hub account for a higher limit.")
		return
	}
	u.stats.upstreamFailure(u.registry, u.describe()+" cannot be reached; cached images still pull. Check the network or proxy settings.")
}

// probe asks for GET /v2/ and reports whether upstream answered; any
// answer but 5xx and 429 counts (a 401 challenge too).
func (u *upstream) probe(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, u.health.probeTimeout)
	defer cancel()
	req, err := u.newRequest(ctx, upstreamRequest{method: http.MethodGet, path: "/v2/"})
	if err != nil {
		return false
	}
	u.stats.upstreamRequest(kindProbe)
	resp, err := u.client.Do(req)
	if err != nil {
		return false // the problem noted when it failed still stands
	}
	drain(resp)
	u.noteHealth(resp)
	return resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests
}

// probeNow wakes a sleeping probe loop (tests).
func (h *health) probeNow() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// revalKey names one tag revalidation: concurrent requests with the same
// key share one upstream HEAD. identity is the upstream token the request
// acts with (nil: the mirror's own), so nothing is shared between users
// under self_auth. The registry is the flightGroup's upstream. The same
// key, with the digest in place of the tag, names one fetch of a manifest
// by digest (upstream.manifestFetches).
type revalKey struct {
	repo, tag, accept string
	identity          *userToken
}

// headResult is upstream's answer to a revalidation HEAD. status is 0 and
// err set when there was no answer; err is also set for a non-200 answer.
type headResult struct {
	status int
	header http.Header
	err    error
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
