package mirror

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// startPrepared is startMirrorCfg with a chance to change the Mirror after
// New and before Start (test hooks on its upstreams).
func startPrepared(t *testing.T, hub *fakehub.Hub, change func(*Config), prepare func(*Mirror), opts ...Option) *testMirror {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{
		Listen:    "127.0.0.1:0",
		CacheDir:  t.TempDir(),
		Upstreams: map[string]string{dockerHub: hub.URL()},
		Logger:    slog.New(slog.NewTextHandler(io.MultiWriter(logs, &audit.text), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if change != nil {
		change(&cfg)
	}
	m, err := New(cfg, append([]Option{fastResumes}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(m)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &testMirror{Mirror: m, hub: hub, base: "http://" + m.Addr(), dir: cfg.CacheDir, logs: logs}
}

// blackHole stands in front of the fake registry: it passes connections
// through until swallowing is turned on, then accepts connections, reads
// what they send and never answers, like a host behind a broken firewall.
type blackHole struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	on       bool
	accepted int                   // connections accepted while swallowing
	conns    map[net.Conn]struct{} // open connections, both sides
}

func newBlackHole(t *testing.T, target string) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go b.serve()
	t.Cleanup(func() {
		ln.Close()
		b.closeAll()
	})
	return b
}

func (b *blackHole) addr() string { return b.ln.Addr().String() }

func (b *blackHole) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns[c] = struct{}{}
		on := b.on
		if on {
			b.accepted++
		}
		b.mu.Unlock()
		if on {
			go io.Copy(io.Discard, c) // until the mirror gives up and closes it
			continue
		}
		up, err := net.Dial("tcp", b.target)
		if err != nil {
			c.Close()
			continue
		}
		b.mu.Lock()
		b.conns[up] = struct{}{}
		b.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// swallow turns the black hole on or off. Turning it on cuts the
// connections passed through so far, so none of them reaches upstream.
func (b *blackHole) swallow(on bool) {
	b.mu.Lock()
	b.on = on
	b.mu.Unlock()
	if on {
		b.closeAll()
	}
}

func (b *blackHole) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		c.Close()
		delete(b.conns, c)
	}
}

func (b *blackHole) swallowed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.accepted
}

// getWithin is get with fullAccept that fails the test when no answer
// comes within d, a generous bound for something that should be quick.
func (tm *testMirror) getWithin(t *testing.T, d time.Duration, path string) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tm.base+path, nil)
	req.Header.Set("Accept", fullAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, err := readAll(resp)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// An upstream that accepts connections and never answers costs one request
// the (short) revalidation deadline; after that, cached tags are served
// from the cache at once, without a connection upstream, until the probe
// sees upstream answer again; then tags are revalidated again.
func TestStalledUpstreamServesCachedTagsAtOnce(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	front := newBlackHole(t, hub.Host())
	tm := startMirrorCfg(t, hub, func(c *Config) { c.Upstreams = map[string]string{dockerHub: "http://" + front.addr()} },
		withRevalidateTimeout(200*time.Millisecond),
		withProbe(time.Hour, 0)) // the test wakes the probe itself
	tm.pull(t, "alpine", img)
	const tag = "/v2/alpine/manifests/latest"

	front.swallow(true)
	swallowed := 0
	for i, what := range []string{"the first request, after the deadline", "the next request, at once"} {
		r := tm.getWithin(t, 20*time.Second, tag) // the transport alone would wait 60 s
		if r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != "offline" || r.header.Get("Docker-Content-Digest") != img.Digest {
			t.Fatalf("%s: %d cache=%q digest %s", what, r.status, r.header.Get("X-Hubmirror-Cache"), r.header.Get("Docker-Content-Digest"))
		}
		switch n := front.swallowed(); {
		case i == 0 && n == 0:
			t.Fatalf("%s: nothing reached the black hole", what)
		case i == 0:
			swallowed = n
		case n != swallowed:
			t.Errorf("%s: %d more connections reached the black hole, want none", what, n-swallowed)
		}
	}
	if p := tm.Status().UpstreamProblem; !strings.Contains(p, "cannot be reached") {
		t.Errorf("upstream problem %q while upstream does not answer", p)
	}

	front.swallow(false)
	tm.upstreams[dockerHub].client.ProbeNow()
	eventually(t, "the probe to see upstream again", func() bool { return tm.Status().UpstreamProblem == "" })
	heads := hub.Counters().ManifestHeads
	r := tm.get(t, tag, "Accept", fullAccept)
	if r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != "hit" {
		t.Errorf("after upstream came back: %d cache=%q, want a revalidated hit", r.status, r.header.Get("X-Hubmirror-Cache"))
	}
	if n := hub.Counters().ManifestHeads - heads; n != 1 {
		t.Errorf("after upstream came back: %d HEADs upstream, want 1", n)
	}
	if n := tm.Status().UpstreamRequests["probe"]; n < 1 {
		t.Errorf("%d probes counted", n)
	}
	if n := front.swallowed(); n != swallowed {
		t.Errorf("%d connections reached the black hole, want %d", n, swallowed)
	}
}

// A single prompt failure (here a 503) does not stop revalidation: the next
// request asks upstream again. A second one in a row does, until the probe
// sees upstream answer; the probe ends when the mirror stops.
func TestFailingUpstreamIsProbedNotAsked(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	tm := startMirror(t, hub, withProbe(time.Hour, 0))
	tm.pull(t, "alpine", img)
	heads := func() int {
		n := 0
		for _, r := range hub.Requests() {
			if r.Method == http.MethodHead && strings.Contains(r.Path, "/manifests/") {
				n++
			}
		}
		return n
	}
	hub.SetStatus(http.StatusServiceUnavailable)
	for i, want := range []int{1, 1, 0, 0} {
		hub.ResetCounters()
		r := tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept)
		if r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != "offline" {
			t.Fatalf("request %d: %d cache=%q", i+1, r.status, r.header.Get("X-Hubmirror-Cache"))
		}
		if got := heads(); got != want {
			t.Errorf("request %d while upstream answers 503: %d HEADs upstream, want %d", i+1, got, want)
		}
	}
	up := tm.upstreams[dockerHub].client
	up.ProbeNow() // still 503: the probe goes on
	eventually(t, "a failed probe", func() bool { return tm.Status().UpstreamRequests["probe"] == 1 })
	if degraded, _ := up.Degraded(); !degraded {
		t.Errorf("a probe answered 503 ended the degraded mode")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tm.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the probe loop to end with the mirror", func() bool { return !up.Probing() })
}

// headGate holds manifest HEADs on their way upstream until opened, and
// says when each one arrives, and when a request joins a revalidation
// running instead of making its own.
type headGate struct {
	next    http.RoundTripper
	armed   atomic.Bool
	arrived chan struct{}
	joined  chan struct{}
	opened  chan struct{}
}

// startGated starts a mirror whose manifest HEADs upstream go through a
// headGate (armed by the test) with room for n clients, and whose
// revalidations wait a minute for upstream (the gate holds the HEADs);
// change adjusts the config further.
func startGated(t *testing.T, hub *fakehub.Hub, n int, change func(*Config)) (*testMirror, *headGate) {
	t.Helper()
	gate := &headGate{next: http.DefaultTransport.(*http.Transport).Clone(),
		arrived: make(chan struct{}, n), joined: make(chan struct{}, n), opened: make(chan struct{})}
	tm := startPrepared(t, hub, func(c *Config) {
		c.Transport = gate
		if change != nil {
			change(c)
		}
	}, func(m *Mirror) {
		m.upstreams[dockerHub].revalidations.onJoin = func() { gate.joined <- struct{}{} }
	}, withRevalidateTimeout(time.Minute))
	return tm, gate
}

// awaitClients waits until n clients are either HEADs held at the gate or
// requests that joined one, and returns how many of each.
func (g *headGate) awaitClients(t *testing.T, n int) (heads, waiters int) {
	t.Helper()
	for heads+waiters < n {
		select {
		case <-g.arrived:
			heads++
		case <-g.joined:
			waiters++
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d HEADs and %d waiters of %d clients arrived", heads, waiters, n)
		}
	}
	return heads, waiters
}

func (g *headGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.armed.Load() && req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/manifests/") {
		g.arrived <- struct{}{}
		<-g.opened
	}
	return g.next.RoundTrip(req)
}

// 32 clients asking for one cached tag at once cause one upstream HEAD.
func TestConcurrentRevalidationsShareOneHead(t *testing.T) {
	const clients = 32
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	tm, gate := startGated(t, hub, clients, nil)
	tm.pull(t, "alpine", img)
	hub.ResetCounters()

	gate.armed.Store(true)
	replies := getManifestsAtOnce(tm, "alpine", "latest", clients)
	// Every client is either the one HEAD held at the gate or waiting for it
	// (without coalescing, all 32 HEADs reach the gate).
	gate.awaitClients(t, clients)
	close(gate.opened)
	for range clients {
		r := await(t, replies, "a reply")
		if r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != img.Digest || r.header.Get("X-Hubmirror-Cache") != "hit" {
			t.Errorf("reply %d cache=%q digest %s", r.status, r.header.Get("X-Hubmirror-Cache"), r.header.Get("Docker-Content-Digest"))
		}
	}
	c := hub.Counters()
	t.Logf("%d concurrent GETs of a cached tag: %d upstream manifest HEADs, %d GETs", clients, c.ManifestHeads, c.ManifestGets)
	if c.ManifestHeads != 1 || c.ManifestGets != 0 {
		t.Errorf("%d upstream HEADs and %d GETs for %d concurrent requests, want 1 and 0", c.ManifestHeads, c.ManifestGets, clients)
	}
}

// Requests share a revalidation only with the same tag, Accept and upstream
// token: two users' HEADs never stand in for each other.
func TestRevalidationKeys(t *testing.T) {
	alice, bob := &upstream.UserToken{}, &upstream.UserToken{}
	keys := []revalKey{
		{repo: "library/alpine", tag: "latest", accept: fullAccept},
		{repo: "library/alpine", tag: "latest", accept: fullAccept, identity: alice},
		{repo: "library/alpine", tag: "latest", accept: fullAccept, identity: bob},
		{repo: "library/alpine", tag: "latest", accept: "application/vnd.oci.image.manifest.v1+json"},
		{repo: "library/alpine", tag: "3.20", accept: fullAccept},
		{repo: "library/busybox", tag: "latest", accept: fullAccept},
	}
	started, joined, release := make(chan revalKey, 2*len(keys)), make(chan struct{}, 2*len(keys)), make(chan struct{})
	g := &flightGroup{onJoin: func() { joined <- struct{}{} }}
	results := make(chan headResult, 2*len(keys))
	for _, k := range append(keys, keys...) {
		go func() {
			res, _ := g.do(context.Background(), k, func() headResult {
				started <- k
				<-release
				return headResult{m: upstream.Manifest{MediaType: k.tag + k.accept}}
			})
			results <- res
		}()
	}
	runs := map[revalKey]int{}
	for range len(keys) {
		runs[await(t, started, "a HEAD")]++
	}
	for range len(keys) {
		await(t, joined, "a waiter")
	}
	close(release)
	for range 2 * len(keys) {
		await(t, results, "a result")
	}
	for _, k := range keys {
		if runs[k] != 1 {
			t.Errorf("key %+v: %d HEADs, want 1", k, runs[k])
		}
	}
	select {
	case k := <-started:
		t.Errorf("an extra HEAD for %+v", k)
	default:
	}
}

// Under self_auth, concurrent revalidations are shared per user only: each
// user's requests make one HEAD, with that user's own upstream token.
func TestConcurrentRevalidationsPerUser(t *testing.T) {
	const perUser = 4
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	hub.AddUser("bobby", "bobby-pw")
	img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	tm, gate := startGated(t, hub, 2*perUser, func(c *Config) { c.Access = Access{SelfAuth: true} })
	_, alice := tm.login(t, "alice", "alice-pw", "alpine")
	_, bob := tm.login(t, "bobby", "bobby-pw", "alpine")
	for _, tok := range []string{alice, bob} {
		if st := tm.pullWith(t, tok, "alpine", img); st != http.StatusOK {
			t.Fatalf("pull: %d", st)
		}
	}
	hub.ResetCounters()

	gate.armed.Store(true)
	statuses := make(chan int, 2*perUser)
	for _, tok := range []string{alice, bob, alice, bob, alice, bob, alice, bob} {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, tm.base+"/v2/alpine/manifests/latest", nil)
			req.Header.Set("Accept", fullAccept)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	heads, _ := gate.awaitClients(t, 2*perUser)
	close(gate.opened)
	for range 2 * perUser {
		if st := await(t, statuses, "a reply"); st != http.StatusOK {
			t.Errorf("reply %d", st)
		}
	}
	if heads != 2 {
		t.Errorf("%d HEADs for two users' %d requests each, want one per user", heads, perUser)
	}
	auths := map[string]bool{}
	for _, r := range hub.Requests() {
		if r.Method == http.MethodHead && strings.Contains(r.Path, "/manifests/") {
			auths[r.Authorization] = true
		}
	}
	if len(auths) != 2 {
		t.Errorf("the HEADs carried %d different tokens, want 2 (one per user)", len(auths))
	}
}

// getManifestsAtOnce sends n GETs of repo:ref to the mirror at once, each
// accepting every manifest type, and returns their replies as they come
// (a zero reply for a request that failed).
func getManifestsAtOnce(tm *testMirror, repo, ref string, n int) <-chan reply {
	replies := make(chan reply, n)
	for range n {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, tm.base+"/v2/"+repo+"/manifests/"+ref, nil)
			req.Header.Set("Accept", fullAccept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				replies <- reply{}
				return
			}
			body, _ := readAll(resp)
			replies <- reply{status: resp.StatusCode, header: resp.Header, body: body}
		}()
	}
	return replies
}
