package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// Probe is how a degraded registry is watched: GET /v2/ with Timeout,
// first after First, then backing off to every Max, while it is degraded
// or a problem is shown for it (no probe runs otherwise).
type Probe struct {
	Timeout, First, Max time.Duration
}

// defaultProbe is the probe of a Client whose Options name none.
var defaultProbe = Probe{Timeout: 3 * time.Second, First: time.Second, Max: 30 * time.Second}

// quickFailuresToDegrade is how many revalidations in a row must fail
// promptly (refused, 5xx, 429) before the registry counts as degraded.
// One that runs into its deadline is enough: it already made a client wait.
const quickFailuresToDegrade = 2

// health is what a registry's recent answers say about it. While it is
// degraded, the mirror serves cached tags without asking, and a probe
// (GET /v2/, backing off) finds out when the registry answers again.
type health struct {
	probe Probe
	wake  chan struct{} // probes at once (ProbeNow)

	mu         sync.Mutex
	quickFails int   // revalidations in a row that failed promptly
	degraded   bool  // asking would only make clients wait
	cause      error // the failure that degraded it
	probing    bool  // a probe loop runs
}

func newHealth(p Probe) *health {
	if p.Timeout <= 0 {
		p.Timeout = defaultProbe.Timeout
	}
	if p.First <= 0 {
		p.First = defaultProbe.First
	}
	if p.Max <= 0 {
		p.Max = defaultProbe.Max
	}
	return &health{probe: p, wake: make(chan struct{}, 1)}
}

// Degraded reports whether the registry failed its recent revalidations
// (NoteRevalidation), so that asking it again would only make clients wait,
// and why (an error that wraps oci.ErrUnreachable or
// oci.ErrTooManyRequests). It stays so until the probe sees the registry
// answer.
func (c *Client) Degraded() (bool, error) {
	h := c.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.degraded {
		return false, nil
	}
	return true, fmt.Errorf("not asked, as it failed recently: %w", h.cause)
}

// NoteRevalidation notes how a revalidation went: a quick check of a
// cached tag (a HEAD with a short deadline) that ended with err. Two
// prompt failures in a row (unreachable, 5xx, 429), or one that ran into
// its deadline, make the registry Degraded and start the probe, which runs
// until the registry answers or ctx (the mirror's) ends; any answer ends
// it. Nothing is noted once ctx has ended.
func (c *Client) NoteRevalidation(ctx context.Context, err error) {
	h := c.health
	switch {
	case failed(err):
		h.mu.Lock()
		h.quickFails++
		if timedOut(err) || h.quickFails >= quickFailuresToDegrade {
			h.degraded, h.cause = true, err
		}
		degraded := h.degraded
		h.mu.Unlock()
		if degraded {
			c.EnsureProbe(ctx)
		}
	case ctx.Err() == nil:
		h.mu.Lock()
		h.quickFails, h.degraded, h.cause = 0, false, nil
		h.mu.Unlock()
	}
}

// timedOut reports whether err is a deadline or a network timeout.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// failed reports whether err says upstream failed, rather than that it
// answered (404, 401, 400) or that the client went away.
func failed(err error) bool {
	return errors.Is(err, oci.ErrUnreachable) || errors.Is(err, oci.ErrTooManyRequests)
}

// EnsureProbe starts the probe loop of a degraded registry, or of one
// with a problem shown, unless one runs. It runs until the registry
// answers or ctx (the mirror's) ends.
func (c *Client) EnsureProbe(ctx context.Context) {
	h := c.health
	shown := c.problems.HasProblem(c.registry)
	h.mu.Lock()
	start := (h.degraded || shown) && !h.probing && ctx.Err() == nil
	h.probing = h.probing || start
	h.mu.Unlock()
	if start {
		go c.probeLoop(ctx)
	}
}

// Probing reports whether a probe loop watches the registry now.
func (c *Client) Probing() bool {
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	return c.health.probing
}

// ProbeNow wakes a sleeping probe loop, so that it asks at once.
func (c *Client) ProbeNow() {
	select {
	case c.health.wake <- struct{}{}:
	default:
	}
}

func (c *Client) probeLoop(ctx context.Context) {
	h := c.health
	wait := h.probe.First
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-h.wake:
		case <-t.C:
		}
		t.Stop()
		up := ctx.Err() == nil && c.probeOnce(ctx)
		shown := c.problems.HasProblem(c.registry)
		h.mu.Lock()
		if up {
			h.quickFails, h.degraded, h.cause = 0, false, nil
		}
		if up || !(h.degraded || shown) || ctx.Err() != nil {
			h.probing = false
			h.mu.Unlock()
			if up {
				c.upstreamProblem(c.registry, "")
			}
			if ctx.Err() == nil && c.problems.HasProblem(c.registry) {
				c.EnsureProbe(ctx) // noted while this loop was ending
			}
			return
		}
		h.mu.Unlock()
		wait = min(2*wait, h.probe.Max)
	}
}

// noteFailure shows a problem in the status when err says upstream failed
// (unreachable, 5xx, 429) while the client still waited, unless a more
// telling one is shown; the probe then watches upstream until it answers.
func (c *Client) noteFailure(ctx context.Context, err error) {
	if err == nil || !failed(err) || ctx.Err() != nil {
		return
	}
	if errors.Is(err, oci.ErrTooManyRequests) {
		c.upstreamFailure(c.registry, c.Describe()+" is rate limiting this mirror (429); cached images still pull. Log in with a Docker Hub account for a higher limit.")
		return
	}
	c.upstreamFailure(c.registry, c.Describe()+" cannot be reached; cached images still pull. Check the network or proxy settings.")
}

// probeOnce asks for GET /v2/ and reports whether upstream answered; any
// answer but 5xx and 429 counts (a 401 challenge too).
func (c *Client) probeOnce(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, c.health.probe.Timeout)
	defer cancel()
	req, err := c.newRequest(ctx, request{method: http.MethodGet, path: "/v2/"})
	if err != nil {
		return false
	}
	c.stats.count(kindProbe)
	resp, err := c.http.Do(req)
	if err != nil {
		return false // the problem noted when it failed still stands
	}
	drain(resp)
	c.noteHealth(resp)
	return resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests
}
