// Package mirror is hubmirror's engine: a pull-through mirror of container
// registries with a verified, streaming disk cache. A Mirror is started and
// stopped by the serve command and by the tray app alike.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// Config is what a Mirror needs. The zero values of the optional fields
// are sensible defaults.
type Config struct {
	// Listen is the host:port to serve on, e.g. "127.0.0.1:5000".
	Listen string
	// CacheDir holds cached blobs, manifests and tags.
	CacheDir string
	// Upstreams maps a registry name to its endpoint URL. docker.io is
	// added with DefaultUpstream when missing.
	Upstreams map[string]string
	// Logger receives one line per request; slog.Default() when nil.
	Logger *slog.Logger
	// Transport carries upstream traffic; a tuned http.Transport when nil.
	Transport http.RoundTripper
	// Credentials returns the account the mirror uses for a registry's
	// token service; nil means anonymous.
	Credentials Credentials
	// Access is who may pull; SetAccess changes it while running.
	Access Access
	// Aliases maps a host name clients use for the mirror to the registry
	// it stands for: requests to ghcr.mirror.lan:5000 go to ghcr.io.
	Aliases map[string]string
	// CacheMax bounds the bytes of blobs kept; the least recently used go
	// first, never one in use. 0 or less: no limit.
	CacheMax int64
	// Pinned are images ("alpine:3.20", "ghcr.io/owner/app:1") kept whole
	// and never evicted; SetPins changes them while running.
	Pinned []string
	// TLS is how the mirror serves HTTPS; the zero value is plain HTTP.
	TLS TLS
	// InsecureLogin lets clients on other machines log in (send passwords)
	// over plain HTTP; they are refused otherwise.
	InsecureLogin bool
	// DownloadConnections is how many parallel Range requests fetch one
	// large blob from upstream; 0 or 1 fetches every blob over one
	// connection (the settings default is 4).
	DownloadConnections int
	// DownloadChunk is the size of each of those requests; 0 is 8 MiB.
	DownloadChunk int64
	// PrefetchLayers is how many of the blobs a manifest names the mirror
	// fetches ahead at once, after a client got that manifest; 0 fetches
	// nothing ahead (the settings default is 3). Pinned images and
	// PrefetchImage fetch as many blobs at once, and one when it is 0.
	PrefetchLayers int
	// PinRefresh is how often pinned images are checked for moved tags
	// (with HEADs, which Docker Hub does not count) and fetched again; 0
	// is every 30 minutes.
	PinRefresh time.Duration
	// Store is the S3-compatible object store behind the cache,
	// s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true; CacheDir
	// is then a bounded read-through cache in front of it. "" keeps
	// everything in CacheDir.
	Store string
	// StoreCredentials are the store's keys; nil reads the AWS
	// environment variables, then the shared credentials file.
	StoreCredentials objstore.Credentials
	// StoreMax bounds the blobs kept in the store; 0 does not bound it.
	// The least recently used go first, never a pinned image's.
	StoreMax int64
	// StoreRedirect answers GETs of blobs the store holds with a 307 to
	// a presigned URL of the store.
	StoreRedirect bool
	// UpstreamCA are PEM certificates trusted for upstream HTTPS besides
	// the system's roots: a team mirror's CA when it is an upstream. It
	// is ignored when Transport is set.
	UpstreamCA []byte
}

// State is where a Mirror is in its life.
type State string

// The states a Mirror goes through.
const (
	Stopped State = "stopped"
	Running State = "running"
	Failed  State = "failed"
)

// Status is a snapshot of a Mirror for a status line or a window.
type Status struct {
	State State
	Addr  string // the address it listens on, while running
	Err   string // why it failed or last failed to start; safe to show
	// PortTaken is set when it failed to start because another program
	// holds the listen address (Err then says so for the command line).
	PortTaken bool
	Listen    string // the listen address it is configured with
	Counters
}

// Mirror runs the registry mirror on a listener. Its methods are safe for
// concurrent use.
type Mirror struct {
	cfg       Config
	log       *slog.Logger
	stats     *stats
	upstreams map[string]*registry
	// upOpts are the options of every upstream client (buildUpstreams).
	upOpts upstream.Options
	// revalidateTimeout is how long a revalidation of a cached tag waits
	// for upstream before the cache answers.
	revalidateTimeout time.Duration

	mu      sync.Mutex
	state   State
	lastErr error
	addr    string
	srv     *http.Server
	cache   *store.Cache
	blobs   *store.Blobs
	cancel  context.CancelFunc
	runCtx  context.Context // ends when the current listener stops
	done    chan struct{}   // closed when the current listener stops serving
	poke    chan struct{}   // asks the notifier to publish a snapshot
	pinPoke chan struct{}   // asks keepPins to fetch the pinned images now
	// engine is the current listener's handler, which the mirror's own
	// fetches (keepPins, PrefetchImage) call in-process; nil when stopped.
	engine *server
	// own counts those fetches: Stop waits for them before it closes the
	// cache.
	own sync.WaitGroup

	subMu sync.Mutex
	subs  map[chan Status]struct{}

	access   atomic.Pointer[accessPolicy]
	sessions *sessionStore
	links    *linkSet
	tuning   store.Tuning // of blob downloads

	ahead     *fetchAhead           // blobs fetched ahead of clients (ahead.go); nil when PrefetchLayers is 0
	aheadDone func(d digest.Digest) // tests: called when a fetch ahead ends
	// pinsDone, when not nil, is called after each pass of keepPins with
	// the digests it marked pinned and whether every pin was fetched
	// (tests).
	pinsDone func(keep []digest.Digest, complete bool)
}

// Reconfigure changes the listen address, cache directory and upstreams.
// A running mirror is stopped (running requests get until ctx ends) and
// started again with them; a stopped one keeps them for its next Start.
// Aliases, CacheMax and PinRefresh follow cfg too; Access, Logger,
// Transport and Credentials in cfg are ignored.
func (m *Mirror) Reconfigure(ctx context.Context, cfg Config) error {
	rt, err := upstreamTransport(m.cfg.Transport, cfg.UpstreamCA)
	if err != nil {
		return err
	}
	ups, err := buildUpstreams(cfg.Upstreams, rt, m.upOpts)
	if err != nil {
		return err
	}
	if err := checkAliases(cfg.Aliases, ups); err != nil {
		return err
	}
	if cfg.Listen == "" || cfg.CacheDir == "" {
		return errors.New("listen address and cache directory must be set")
	}
	// A mirror that failed is started again: the new settings may be
	// what it needed (another port).
	st := m.Status().State
	wasRunning := st == Running || st == Failed
	if wasRunning {
		if err := m.Stop(ctx); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.cfg.Listen, m.cfg.CacheDir, m.cfg.Upstreams, m.cfg.Aliases = cfg.Listen, cfg.CacheDir, cfg.Upstreams, cfg.Aliases
	m.cfg.CacheMax = cfg.CacheMax
	m.cfg.DownloadConnections, m.cfg.DownloadChunk, m.cfg.PrefetchLayers = cfg.DownloadConnections, cfg.DownloadChunk, cfg.PrefetchLayers
	m.cfg.Store, m.cfg.StoreCredentials = cfg.Store, cfg.StoreCredentials
	m.cfg.StoreMax, m.cfg.StoreRedirect = cfg.StoreMax, cfg.StoreRedirect
	m.cfg.TLS, m.cfg.InsecureLogin = cfg.TLS, cfg.InsecureLogin
	m.cfg.PinRefresh = cfg.PinRefresh
	m.cfg.UpstreamCA = cfg.UpstreamCA
	m.upstreams = ups
	m.mu.Unlock()
	m.stats.dropProblemsExcept(ups)
	if wasRunning {
		return m.Start()
	}
	return nil
}

// SetAccess changes who may pull, at once and without a restart: pulls in
// flight go on, and tokens of users no longer allowed stop working.
func (m *Mirror) SetAccess(a Access) {
	m.access.Store(newPolicy(a))
	if !a.SelfAuth {
		m.links.clear() // only sessions look links up
	}
	m.log.Info("access changed", "self_auth", a.SelfAuth, "allowed_users", len(a.AllowedUsers))
}

// defaultRevalidateTimeout is how long a revalidation of a cached tag
// waits for upstream before the cache answers.
const defaultRevalidateTimeout = 3 * time.Second

// Option changes how New makes a Mirror, past what Config says.
type Option func(*Mirror)

// WithDownloadTuning sets how blob downloads ride out a bad upstream
// connection; store.DefaultTuning without it.
func WithDownloadTuning(t store.Tuning) Option {
	return func(m *Mirror) { m.tuning = t }
}

// New checks cfg and returns a stopped Mirror.
func New(cfg Config, opts ...Option) (*Mirror, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == "" {
		return nil, errors.New("listen address is empty")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("cache directory is empty")
	}
	m := &Mirror{
		cfg: cfg, log: cfg.Logger, stats: newStats(),
		state: Stopped, subs: map[chan Status]struct{}{},
		sessions: newSessionStore(), links: newLinkSet(maxLinks),
		tuning: store.DefaultTuning(), revalidateTimeout: defaultRevalidateTimeout,
	}
	for _, o := range opts {
		o(m)
	}
	m.stats.hooks(m.probe, m.changed)
	cfg.Credentials = m.watchKeyring(cfg.Credentials)
	m.cfg.Credentials = cfg.Credentials
	m.access.Store(newPolicy(cfg.Access))
	m.upOpts.Credentials, m.upOpts.Stats, m.upOpts.Problems, m.upOpts.Log = cfg.Credentials, &m.stats.upstream, m.stats, m.log
	rt, err := upstreamTransport(cfg.Transport, cfg.UpstreamCA)
	if err != nil {
		return nil, err
	}
	ups, err := buildUpstreams(cfg.Upstreams, rt, m.upOpts)
	if err != nil {
		return nil, err
	}
	if err := checkAliases(cfg.Aliases, ups); err != nil {
		return nil, err
	}
	m.upstreams = ups
	return m, nil
}

// upstreamTransport is what carries upstream traffic: rt when set, else
// the tuned transport trusting caPEM too (nil, for buildUpstreams' own,
// when there is no caPEM).
func upstreamTransport(rt http.RoundTripper, caPEM []byte) (http.RoundTripper, error) {
	if rt != nil || len(caPEM) == 0 {
		return rt, nil
	}
	return UpstreamTransport(caPEM)
}

// UpstreamTransport is a transport for upstream traffic that trusts the
// certificates in caPEM besides the system's roots, for CheckLogin with a
// team mirror as the registry.
func UpstreamTransport(caPEM []byte) (http.RoundTripper, error) {
	t, err := upstream.NewTransport(caPEM)
	if err != nil {
		return nil, fmt.Errorf("upstream CA: %w", err)
	}
	return t, nil
}

// checkAliases makes sure every alias names a mirrored registry.
func checkAliases(aliases map[string]string, ups map[string]*registry) error {
	for host, reg := range aliases {
		if ups[reg] == nil {
			return fmt.Errorf("alias %s: registry %q is not mirrored; add it with --upstream %s=https://…", host, reg, reg)
		}
	}
	return nil
}

// Start opens the cache and the listener and serves in the background. An
// address in use gives an error that wraps ErrAddrInUse.
func (m *Mirror) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == Running {
		return nil
	}
	err := m.startLocked()
	m.lastErr = err
	if err != nil {
		m.state = Failed
	}
	m.publish()
	return err
}

// storeOpenTimeout bounds how long the mirror waits for the object store
// to answer when it starts.
const storeOpenTimeout = 30 * time.Second

// openStore connects to the object store the config names; nil when it
// names none.
func (m *Mirror) openStore() (*objstore.Store, error) {
	if m.cfg.Store == "" {
		return nil, nil
	}
	remote, err := openStoreURL(context.Background(), m.cfg.Store, m.cfg.StoreCredentials)
	if err != nil {
		return nil, err
	}
	m.log.Info("object store behind the cache", "store", remote.Config().String())
	return remote, nil
}

func (m *Mirror) startLocked() error {
	tlsCfg, caPEM, err := serverTLS(m.cfg.TLS, m.cfg.Listen, m.cfg.Aliases)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.cfg.Listen)
	if err != nil {
		if addrInUse(err) {
			return addrInUseError(m.cfg.Listen)
		}
		return fmt.Errorf("listen on %s: %w", m.cfg.Listen, err)
	}
	remote, err := m.openStore()
	if err != nil {
		ln.Close()
		return err
	}
	opts := store.Options{Max: m.cfg.CacheMax, StoreMax: m.cfg.StoreMax, Stats: &m.stats.store, Log: m.log}
	if remote != nil {
		opts.Remote = remote
	}
	cache, err := store.Open(m.cfg.CacheDir, opts)
	if err != nil {
		ln.Close()
		return err
	}
	if err := cache.MarkOwner(ln.Addr().String()); err != nil {
		m.log.Warn("a second hubmirror on this cache directory will not be told where this one listens", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cache, m.cancel, m.runCtx = cache, cancel, ctx
	m.sessions.attach(ctx, cache, m.log, &m.own) // shared through the store, if any, until Stop (sessions_shared.go)
	if remote != nil {
		m.own.Add(1)
		go func() {
			defer m.own.Done()
			cleanUploads(ctx, remote, m.log, uploadsMaxAge, uploadsCleanEvery)
		}()
	}
	m.blobs = store.NewBlobs(ctx, cache, store.BlobsConfig{
		Log: m.log, Tuning: m.tuning, OnKept: m.stats.blobKept,
		DownloadConnections: m.cfg.DownloadConnections, DownloadChunk: m.cfg.DownloadChunk,
	})
	var links *store.StoreLinks // clients of store_redirect fetch blobs the store holds from it
	if m.cfg.StoreRedirect {
		links = m.blobs.StoreLinks()
	}
	m.ahead = newFetchAhead(ctx, m.cfg.PrefetchLayers, m.blobs, m.stats, m.log, m.cfg.CacheMax, m.aheadDone)
	m.ahead.skipStored(links)
	m.poke = make(chan struct{}, 1)
	go m.notify(ctx, m.poke)
	handler := &server{
		ctx: ctx, cache: cache, blobs: m.blobs, stats: m.stats, log: m.log, upstreams: m.upstreams, cacheKey: newCacheKey(),
		onChange: m.changed, access: &m.access, sessions: m.sessions, links: m.links,
		aliases: lowerKeys(m.cfg.Aliases),
	}
	handler.ahead = m.ahead
	handler.revalidateTimeout = m.revalidateTimeout
	handler.ownParallel = max(m.cfg.PrefetchLayers, 1) // pins and prefetches fetch blobs as many at once as fetch-ahead
	handler.storeLinks = links
	m.stats.storeOn.Store(remote != nil)
	m.engine = handler
	m.srv = &http.Server{
		Handler:           newTransportGuard(handler, caPEM, tlsCfg != nil, m.cfg.InsecureLogin, m.log),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(&slogWriter{m.log}, "", 0),
	}
	m.addr = ln.Addr().String()
	if tlsCfg != nil {
		ln = newMixedListener(ln, tlsCfg) // HTTPS, and plain HTTP for this machine's tools
	}
	m.done = make(chan struct{})
	m.state = Running
	go m.serve(m.srv, ln, m.done)
	m.pinPoke = make(chan struct{}, 1)
	m.own.Add(1)
	go func(poke <-chan struct{}) {
		defer m.own.Done()
		m.keepPins(ctx, handler, poke)
	}(m.pinPoke)
	for _, reg := range m.upstreams {
		reg.client.EnsureProbe(ctx) // problems noted while stopped
	}
	m.log.Info("listening", "addr", m.addr, "cache", m.cfg.CacheDir, "tls", tlsCfg != nil)
	if caPEM != nil {
		m.log.Info("serving HTTPS with the local CA: clients trust it with hubmirror setup ca, or /ca.crt", "dir", m.cfg.TLS.Dir)
	}
	if host, _, _ := net.SplitHostPort(m.addr); !isLoopback(host) {
		switch pol := m.access.Load(); {
		case !pol.selfAuth:
			m.log.Warn("listening beyond this machine with self_auth off: anyone who can reach " + m.addr +
				" can pull through it, with the stored registry accounts")
		case len(pol.allowed) == 0:
			m.log.Warn("listening beyond this machine with self_auth on and no allowed_users: anyone who can reach " + m.addr +
				" can pull through it without logging in (Docker Hub anonymously, other registries with the stored accounts);" +
				" set allowed_users to require a login")
		}
	}
	return nil
}

func (m *Mirror) serve(srv *http.Server, ln net.Listener, done chan struct{}) {
	err := srv.Serve(ln)
	defer close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return
	}
	m.mu.Lock()
	if m.srv == srv {
		m.state, m.lastErr = Failed, fmt.Errorf("serve: %w", err)
		m.publish()
	}
	m.mu.Unlock()
	m.log.Error("mirror stopped serving", "err", err)
}

// Stop stops accepting requests, lets running ones finish until ctx ends,
// then cuts them, stops downloads and releases the cache.
func (m *Mirror) Stop(ctx context.Context) error {
	m.mu.Lock()
	srv, cancel, blobs, cache, done := m.srv, m.cancel, m.blobs, m.cache, m.done
	ahead := m.ahead
	m.srv, m.engine = nil, nil
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	cancel()
	m.own.Wait() // the mirror's own fetches end with ctx
	ahead.wait()
	blobs.Wait()
	<-done
	cache.Close()
	m.mu.Lock()
	m.state, m.addr = Stopped, ""
	m.publish()
	m.mu.Unlock()
	m.log.Info("stopped")
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil // requests that outlived the grace period were cut
	}
	return err
}

// Done is closed when the current listener stops serving, by Stop or by a
// failure; nil when the mirror is not running.
func (m *Mirror) Done() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done
}

// Addr returns the address the mirror listens on, or "" when stopped.
func (m *Mirror) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Status returns a snapshot of the mirror's state and counters.
func (m *Mirror) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.statusLocked()
}

func (m *Mirror) statusLocked() Status {
	st := Status{State: m.state, Addr: m.addr, Listen: m.cfg.Listen, Counters: m.stats.snapshot()}
	if m.lastErr != nil {
		st.Err = m.lastErr.Error()
		st.PortTaken = errors.Is(m.lastErr, ErrAddrInUse)
	}
	return st
}

// Subscribe returns a channel that receives a fresh Status when the state
// changes and, at most a few times a second, when the counters change. A
// slow reader misses intermediate snapshots, never the latest one. Call
// cancel to unsubscribe.
func (m *Mirror) Subscribe() (updates <-chan Status, cancel func()) {
	ch := make(chan Status, 1)
	ch <- m.Status()
	m.subMu.Lock()
	m.subs[ch] = struct{}{}
	m.subMu.Unlock()
	return ch, func() {
		m.subMu.Lock()
		delete(m.subs, ch)
		m.subMu.Unlock()
	}
}

// publish sends the current snapshot to every subscriber. m.mu is held.
func (m *Mirror) publish() {
	st := m.statusLocked()
	m.subMu.Lock()
	defer m.subMu.Unlock()
	for ch := range m.subs {
		select {
		case <-ch: // replace the unread snapshot with this newer one
		default:
		}
		ch <- st
	}
}

// changed is called after every request.
func (m *Mirror) changed() {
	m.mu.Lock()
	poke := m.poke
	m.mu.Unlock()
	select {
	case poke <- struct{}{}:
	default:
	}
}

// notify publishes counter changes, at most five times a second.
func (m *Mirror) notify(ctx context.Context, poke <-chan struct{}) {
	for {
		select {
		case <-poke:
		case <-ctx.Done():
			return
		}
		m.mu.Lock()
		m.publish()
		m.mu.Unlock()
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// isLoopback reports whether host is a loopback address or name.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// slogWriter sends net/http's own error log lines to slog.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("http server", "msg", string(p))
	return len(p), nil
}
