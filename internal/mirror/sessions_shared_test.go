package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// memSessions is an in-memory sessionBackend: the store that mirrors in
// one test share.
type memSessions struct {
	mu      sync.Mutex
	records map[string][]byte
	reads   int
	failPut error // PutSession's answer, when set
	// prunes receives PruneSessions' olderThan, when set.
	prunes chan time.Duration
}

func newMemSessions() *memSessions { return &memSessions{records: map[string][]byte{}} }

func (b *memSessions) PutSession(_ context.Context, id string, sealed []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failPut != nil {
		return b.failPut
	}
	if _, ok := b.records[id]; ok {
		return errors.New("exists")
	}
	b.records[id] = bytes.Clone(sealed)
	return nil
}

func (b *memSessions) Session(_ context.Context, id string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads++
	raw, ok := b.records[id]
	if !ok {
		return nil, fmt.Errorf("%s: %w", id, store.ErrNoSession)
	}
	return bytes.Clone(raw), nil
}

func (b *memSessions) PruneSessions(_ context.Context, olderThan time.Duration) (int, error) {
	if b.prunes != nil {
		b.prunes <- olderThan
	}
	return 0, nil
}

// readCount is how many records were read.
func (b *memSessions) readCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reads
}

// only returns the one record kept, failing the test unless there is
// exactly one.
func (b *memSessions) only(t *testing.T) []byte {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.records) != 1 {
		t.Fatalf("%d session records in the store, want 1", len(b.records))
	}
	for _, raw := range b.records {
		return raw
	}
	return nil
}

// testToken is a token shaped like the mirror's.
func testToken(b byte) string { return strings.Repeat(fmt.Sprintf("%02x", b), 32) }

// sampleSession is a session of alice on two repositories with an upstream
// token.
func sampleSession(expires time.Time) *session {
	return &session{
		user:    "alice",
		scopes:  map[repoKey]bool{{dockerHub, "alice/private"}: true, {"ghcr.io", "org/tool"}: true},
		upToken: upstream.FixedToken("upstream-token-value"),
		expires: expires,
		access:  map[repoKey]bool{},
	}
}

// shareWith makes st share its sessions through b, with its own clock.
func shareWith(st *sessionStore, b sessionBackend) {
	st.share(b, slog.New(slog.DiscardHandler))
}

// A sealed record opens with its token into the same session, with the
// upstream token's value and no renewal.
func TestSealedSessionRoundTrip(t *testing.T) {
	tok := testToken(0x3c)
	exp := time.Unix(time.Now().Add(time.Minute).Unix(), 0)
	in := sampleSession(exp)
	got, err := openSession(tok, sealSession(tok, in))
	if err != nil {
		t.Fatal(err)
	}
	if got.user != "alice" || !got.expires.Equal(exp) || len(got.scopes) != 2 ||
		!got.scopes[repoKey{dockerHub, "alice/private"}] || !got.scopes[repoKey{"ghcr.io", "org/tool"}] {
		t.Errorf("opened %+v, want %+v", got, in)
	}
	if got.upToken == nil || got.upToken.Value() != "upstream-token-value" {
		t.Errorf("upstream token %v, want the same value", got.upToken)
	}
	if got.access == nil || len(got.access) != 0 {
		t.Errorf("access %v: each mirror asks upstream itself", got.access)
	}
	anon := &session{scopes: map[repoKey]bool{}, expires: exp}
	if got, err := openSession(tok, sealSession(tok, anon)); err != nil || got.upToken != nil || got.user != "" {
		t.Errorf("anonymous session without an upstream token: %+v, %v", got, err)
	}
}

// A record opens with its own token only, and refuses any change.
func TestSealedSessionRefused(t *testing.T) {
	tok := testToken(0x11)
	sealed := sealSession(tok, sampleSession(time.Now().Add(time.Minute)))
	if _, err := openSession(testToken(0x12), sealed); !errors.Is(err, errSealed) {
		t.Errorf("opened with another token: %v", err)
	}
	other := gcmFor(testToken(0x12)) // the right name, another token's key
	if _, err := other.Open(nil, sealed[:other.NonceSize()], sealed[other.NonceSize():], []byte(sessionID(tok))); err == nil {
		t.Error("the record opens with a key not derived from its token")
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := openSession(tok, bad); !errors.Is(err, errSealed) {
			t.Fatalf("byte %d changed: opened (%v)", i, err)
		}
	}
	for _, cut := range [][]byte{nil, sealed[:5], sealed[:len(sealed)-1], append(bytes.Clone(sealed), 0)} {
		if _, err := openSession(tok, cut); !errors.Is(err, errSealed) {
			t.Errorf("%d bytes of %d: opened (%v)", len(cut), len(sealed), err)
		}
	}
}

// Two sealings of one session differ (a fresh nonce each time).
func TestSealedSessionNonce(t *testing.T) {
	tok, s := testToken(0x21), sampleSession(time.Now().Add(time.Minute))
	if bytes.Equal(sealSession(tok, s), sealSession(tok, s)) {
		t.Error("the same session sealed twice gave the same bytes")
	}
}

// A session issued on one store is honoured by another that shares it,
// until it expires; the copy is kept, so the record is read once.
func TestSharedSessionAcrossStores(t *testing.T) {
	b := newMemSessions()
	one, two := newSessionStore(), newSessionStore()
	shareWith(one, b)
	shareWith(two, b)
	now := time.Now()
	tok, err := one.issue(context.Background(), sampleSession(now.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := two.get(ctx, tok)
	if s == nil || s.user != "alice" || s.token(dockerHub).Value() != "upstream-token-value" {
		t.Fatalf("the other store's session: %+v", s)
	}
	if two.get(ctx, tok) != s || b.readCount() != 1 {
		t.Errorf("second get: %d reads, want 1 (kept)", b.readCount())
	}
	two.mu.Lock()
	two.now = func() time.Time { return now.Add(2 * time.Minute) }
	two.mu.Unlock()
	if two.get(ctx, tok) != nil {
		t.Error("an expired session from the store was honoured")
	}
	// Sessions read from the store are forgotten once they expire, also
	// on a mirror that issues none.
	later, err := one.issue(ctx, sampleSession(now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if two.get(ctx, later) == nil {
		t.Fatal("the second session was not honoured")
	}
	two.mu.Lock()
	_, kept := two.m[tok]
	two.mu.Unlock()
	if kept {
		t.Error("an expired session read from the store is still kept")
	}
	// A record that is already dead when first read is not honoured.
	three := newSessionStore()
	shareWith(three, b)
	three.now = two.now
	if three.get(ctx, tok) != nil {
		t.Error("a record read after its expiry was honoured")
	}
	if !three.misses.has(tok, three.clock()) {
		t.Error("a record read after its expiry is not remembered as a miss")
	}
	// Without a shared store, nothing is read.
	alone := newSessionStore()
	if alone.get(ctx, tok) != nil {
		t.Error("a store that shares nothing honoured another's token")
	}
}

// A token the store has no session for is asked about once per missTTL;
// tokens not shaped like the mirror's are never asked about; the misses
// kept are bounded.
func TestSharedSessionMisses(t *testing.T) {
	b := newMemSessions()
	st := newSessionStore()
	shareWith(st, b)
	now := time.Now()
	st.now = func() time.Time { return now }
	ctx := context.Background()
	bogus := testToken(0x99)
	for range 3 {
		if st.get(ctx, bogus) != nil {
			t.Fatal("a bogus token got a session")
		}
	}
	if n := b.readCount(); n != 1 {
		t.Errorf("%d store reads for one bogus token, want 1", n)
	}
	st.mu.Lock()
	st.now = func() time.Time { return now.Add(missTTL) }
	st.mu.Unlock()
	st.get(ctx, bogus)
	if n := b.readCount(); n != 2 {
		t.Errorf("%d store reads after missTTL, want 2", n)
	}
	for _, odd := range []string{"", "abc", strings.ToUpper(testToken(0xab)), testToken(0xab) + "0", strings.Repeat("g", 64)} {
		st.get(ctx, odd)
	}
	if n := b.readCount(); n != 2 {
		t.Errorf("tokens not shaped like the mirror's were looked up: %d reads", n)
	}
	for i := range maxMisses + 10 {
		st.misses.add(fmt.Sprintf("%064x", i), now)
	}
	if n := st.misses.len(); n != maxMisses {
		t.Errorf("%d misses kept, want %d", n, maxMisses)
	}
	if st.misses.has(fmt.Sprintf("%064x", 0), now) || !st.misses.has(fmt.Sprintf("%064x", maxMisses+9), now) {
		t.Error("not the oldest misses were forgotten")
	}
}

// Through the mirror: a token issued by one mirror works on another that
// shares the store, the record holds neither the password nor, in clear,
// the upstream token, and the second mirror's allow-list still decides.
func TestSelfAuthSharedAcrossMirrors(t *testing.T) {
	hub := newHub(t)
	img := addAlicePrivate(hub, "alice-shared-pw")
	b := newMemSessions()
	one := startAuthMirror(t, hub)
	two := startAuthMirror(t, hub)
	strict := startAuthMirror(t, hub, "bobby")
	for _, tm := range []*testMirror{one, two, strict} {
		shareWith(tm.sessions, b)
	}

	st, tok := one.login(t, "alice", "alice-shared-pw", "alice/private")
	if st != http.StatusOK {
		t.Fatalf("login: %d", st)
	}
	if got := two.pullWith(t, tok, "alice/private", img); got != http.StatusOK {
		t.Errorf("pull from the second mirror with the first's token: %d", got)
	}
	if r := strict.get(t, "/v2/", "Authorization", "Bearer "+tok); r.status != http.StatusUnauthorized {
		t.Errorf("a mirror whose allow-list lacks the user: %d, want 401", r.status)
	}
	if r := two.get(t, "/v2/", "Authorization", "Bearer "+testToken(0x42)); r.status != http.StatusUnauthorized {
		t.Errorf("a random token on the second mirror: %d, want 401", r.status)
	}

	sealed := b.only(t)
	sess := one.sessions.get(context.Background(), tok)
	upTok := sess.token(dockerHub).Value()
	if upTok == "" {
		t.Fatal("the session has no upstream token")
	}
	plain, err := openSession(tok, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if plain.token(dockerHub).Value() != upTok {
		t.Error("the record does not carry the upstream token")
	}
	rec := plaintext(t, tok, sealed)
	for name, secret := range map[string]string{"the password": "alice-shared-pw", "the upstream token": upTok, "the token": tok} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Errorf("the sealed record holds %s in clear", name)
		}
	}
	if bytes.Contains(rec, []byte("alice-shared-pw")) {
		t.Error("the record holds the password")
	}
}

// plaintext opens a record down to its JSON.
func plaintext(t *testing.T, tok string, sealed []byte) []byte {
	t.Helper()
	aead := gcmFor(tok)
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(sessionID(tok)))
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// A token whose record cannot be written works on its own mirror only,
// and the warning names no secret.
func TestSelfAuthSharedWriteFails(t *testing.T) {
	hub := newHub(t)
	img := addAlicePrivate(hub, "alice-nostore-pw")
	b := newMemSessions()
	b.failPut = errors.New("store down")
	one, two := startAuthMirror(t, hub), startAuthMirror(t, hub)
	shareWith(one.sessions, b)
	shareWith(two.sessions, b)
	st, tok := one.login(t, "alice", "alice-nostore-pw", "alice/private")
	if st != http.StatusOK {
		t.Fatalf("login with the store down: %d", st)
	}
	if got := one.pullWith(t, tok, "alice/private", img); got != http.StatusOK {
		t.Errorf("pull from the issuing mirror: %d", got)
	}
	if r := two.get(t, "/v2/", "Authorization", "Bearer "+tok); r.status != http.StatusUnauthorized {
		t.Errorf("the other mirror: %d, want 401", r.status)
	}
	if logs := one.logs.String(); !strings.Contains(logs, "store down") || strings.Contains(logs, tok) {
		t.Errorf("the warning is missing or holds the token:\n%s", logs)
	}
}

// The janitor deletes records past the longest session at once, and ends
// with its context.
func TestSessionJanitor(t *testing.T) {
	b := newMemSessions()
	b.prunes = make(chan time.Duration, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	st := newSessionStore()
	go func() {
		defer close(done)
		st.janitor(ctx, b, slog.New(slog.DiscardHandler))
	}()
	if age := <-b.prunes; age < maxSessionTTL {
		t.Errorf("records pruned at %v, younger than the longest session (%v)", age, maxSessionTTL)
	}
	cancel()
	<-done
}

// forge writes a record for tok straight into b, as someone who can write
// to the bucket but holds no session could.
func forge(t *testing.T, b *memSessions, tok string, s *session) {
	t.Helper()
	if err := b.PutSession(context.Background(), sessionID(tok), sealSession(tok, s)); err != nil {
		t.Fatal(err)
	}
}

// A record is honoured for at most maxSessionTTL from when it is read,
// whatever expiry it names, and never without an upstream token, which
// would make the session act with the mirror's own account.
func TestSharedSessionLimits(t *testing.T) {
	b := newMemSessions()
	st := newSessionStore()
	shareWith(st, b)
	now := time.Now()
	st.now = func() time.Time { return now }
	ctx := context.Background()

	long := testToken(0x01)
	forge(t, b, long, sampleSession(now.Add(100*365*24*time.Hour)))
	s := st.get(ctx, long)
	if s == nil {
		t.Fatal("a live record was refused")
	}
	if limit := now.Add(maxSessionTTL); s.expires.After(limit) {
		t.Errorf("a record naming a century is honoured until %s, want at most %s", s.expires, limit)
	}

	bare := testToken(0x02)
	noUpstream := sampleSession(now.Add(time.Minute))
	noUpstream.upToken = nil
	forge(t, b, bare, noUpstream)
	if st.get(ctx, bare) != nil {
		t.Error("a record without an upstream token was honoured")
	}
}

// flakySessions fails every read with a store error (not "no session").
type flakySessions struct {
	*memSessions
	fail atomic.Bool
}

func (f *flakySessions) Session(ctx context.Context, id string) ([]byte, error) {
	if f.fail.Load() {
		f.memSessions.Session(ctx, id) // counted
		return nil, errors.New("store: connection refused")
	}
	return f.memSessions.Session(ctx, id)
}

// A store that cannot be asked is not a miss: once it answers again, the
// token works at once, not after missTTL.
func TestSharedSessionStoreErrorIsNotAMiss(t *testing.T) {
	b := &flakySessions{memSessions: newMemSessions()}
	one, two := newSessionStore(), newSessionStore()
	shareWith(one, b)
	shareWith(two, b)
	ctx := context.Background()
	tok, err := one.issue(ctx, sampleSession(time.Now().Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	b.fail.Store(true)
	if two.get(ctx, tok) != nil {
		t.Fatal("a session came from a store that failed")
	}
	b.fail.Store(false)
	if two.get(ctx, tok) == nil {
		t.Error("after the store failed once, a good token was refused (remembered as a miss)")
	}
}

// blockingSessions holds every read until release is closed.
type blockingSessions struct {
	*memSessions
	release chan struct{}
	running atomic.Int32
	peak    atomic.Int32
}

func (b *blockingSessions) Session(ctx context.Context, id string) ([]byte, error) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-b.release
	return b.memSessions.Session(ctx, id)
}

// Bogus tokens, each a store read, are read at most maxSessionReads at
// once; the lookups beyond wait, then get no session.
func TestSharedSessionReadsBounded(t *testing.T) {
	b := &blockingSessions{memSessions: newMemSessions(), release: make(chan struct{})}
	st := newSessionStore()
	shareWith(st, b)
	ctx := context.Background()
	var wg sync.WaitGroup
	var ended atomic.Int32
	const beyond = 8
	for i := range maxSessionReads + beyond {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.get(ctx, fmt.Sprintf("%064x", i+1))
			ended.Add(1)
		}()
	}
	// The lookups beyond the slots give up after sessionReadWait.
	testutil.Eventually(t, "the lookups beyond the slots to give up", func() bool { return ended.Load() == beyond })
	if n := b.running.Load(); n != maxSessionReads {
		t.Errorf("%d store reads running, want %d", n, maxSessionReads)
	}
	close(b.release)
	wg.Wait()
	if p := b.peak.Load(); p > maxSessionReads {
		t.Errorf("%d session reads at once, want at most %d", p, maxSessionReads)
	}
}

// ctxSessions blocks every read until its context ends, and sends why.
type ctxSessions struct {
	*memSessions
	ended chan error
}

func (c ctxSessions) Session(ctx context.Context, id string) ([]byte, error) {
	<-ctx.Done()
	c.ended <- context.Cause(ctx)
	return nil, ctx.Err()
}

// A store read of a session ends when the mirror stops (its run context),
// not up to sharedTimeout later; the request's own cancel does not end a
// read other requests may wait for.
func TestSharedSessionReadEndsWithTheMirror(t *testing.T) {
	st := newSessionStore()
	b := ctxSessions{newMemSessions(), make(chan error, 1)}
	shareWith(st, b)
	run, stop := context.WithCancel(context.Background())
	st.runCtx = run
	req, cancelReq := context.WithCancel(context.Background())
	done := make(chan *session)
	go func() { done <- st.read(req, b, nil, testToken(0x42)) }()
	cancelReq()
	select {
	case <-done:
		t.Fatal("the read ended with the request that started it")
	case <-time.After(50 * time.Millisecond):
	}
	stop()
	if err := testutil.Await(t, b.ended, "the store read to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the store read ended with %v, want the mirror's stop (context.Canceled), not its timeout", err)
	}
	if s := testutil.Await(t, done, "the read to end with the mirror"); s != nil {
		t.Error("a session came from a read that was cut")
	}
}

// addAlicePrivate adds the user alice with password pw to hub, and her
// private image alice/private:latest, which it returns.
func addAlicePrivate(hub *fakehub.Hub, pw string) fakehub.Image {
	hub.AddUser("alice", pw)
	img := hub.AddImage("alice/private", "latest", []byte("private layer"))
	hub.SetPrivate("alice/private", "alice")
	return img
}
