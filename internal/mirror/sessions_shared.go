package mirror

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// Sessions shared through the store (issue 15): with an object store
// behind the cache, a session this mirror issues is also written to the
// store before its token is handed out, so that every mirror on the same
// store honours the token (several instances behind a load balancer).
//
// The record is sealed with the token itself: its name is a hash of the
// token, its bytes AES-256-GCM under a key derived from the token, so the
// bucket holds nothing anyone can use without the token, and a record
// cannot be moved under another name or changed without being refused.
// It holds the user, the repositories the token grants, when it expires,
// and the user's upstream token, never the password: a mirror that reads
// it acts with that upstream token until it expires, and cannot renew it.
//
// A mirror that does not know a token reads its record once and keeps the
// session until it expires; a token that has no record (or none that
// opens) is remembered as such for missTTL, so bogus tokens cost at most
// one store read each per missTTL. What upstream said about a
// repository (session.access) and the links are learned again by each
// mirror, and allowed_users is checked on every request by each mirror's
// own list.

// sessionBackend keeps sealed session records: *store.Cache with a store
// behind it, or a fake in tests.
type sessionBackend interface {
	PutSession(ctx context.Context, id string, sealed []byte) error
	Session(ctx context.Context, id string) ([]byte, error)
	PruneSessions(ctx context.Context, olderThan time.Duration) (int, error)
}

// maxSessionTTL bounds a session's life whatever upstream's token says, so
// the janitor knows when every record is dead.
const maxSessionTTL = 24 * time.Hour

// sessionPruneEvery is how often a mirror deletes dead records; every
// mirror on the store does, and deleting one twice is harmless.
const sessionPruneEvery = time.Hour

// sessionPruneAge is how old a record is when the janitor deletes it: past
// the longest session, with an hour to spare for clocks that disagree.
const sessionPruneAge = maxSessionTTL + time.Hour

// sharedTimeout bounds one read or write of a session record.
const sharedTimeout = 10 * time.Second

// maxSessionReads bounds the reads of session records running at once,
// and sessionReadWait how long a lookup waits for one to end: bogus
// tokens, each one store read, cannot make more; a lookup that finds them
// all busy gets no session (401), and its client asks again or logs in.
const (
	maxSessionReads = 16
	sessionReadWait = 2 * time.Second
)

// missTTL is how long a token with no session in the store is remembered
// as such, and maxMisses how many are.
const (
	missTTL   = 30 * time.Second
	maxMisses = 4096
)

// sealedRecord is a session as it is sealed into the store.
type sealedRecord struct {
	User string `json:"user,omitempty"`
	// Scopes are [registry, repository] pairs.
	Scopes [][2]string `json:"scopes"`
	// Upstream is the user's upstream token (Docker Hub's), "" for none.
	Upstream string `json:"upstream,omitempty"`
	// HasUpstream says whether the session had an upstream token at all
	// (an empty value is still one: upstream's anonymous token may be).
	HasUpstream bool  `json:"has_upstream,omitempty"`
	Expires     int64 `json:"expires"` // unix seconds
}

// sessionID is the store's name for tok's record: a hash that tells
// nothing about the token.
func sessionID(tok string) string {
	h := sha256.Sum256([]byte("hubmirror session id\x00" + tok))
	return hex.EncodeToString(h[:])
}

// sealKey is the AES-256 key of tok's record.
func sealKey(tok string) []byte {
	h := sha256.Sum256([]byte("hubmirror session key\x00" + tok))
	return h[:]
}

// looksLikeToken reports whether tok is shaped like a token a mirror
// issues (64 lowercase hex characters): only those are looked up in the
// store.
func looksLikeToken(tok string) bool {
	if len(tok) != 64 {
		return false
	}
	for _, r := range tok {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// gcmFor is the AEAD sealing tok's record.
func gcmFor(tok string) cipher.AEAD {
	block, err := aes.NewCipher(sealKey(tok))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// sealSession is s's record sealed with tok: a random nonce, then the
// ciphertext of its JSON, bound to the record's name.
func sealSession(tok string, s *session) []byte {
	rec := sealedRecord{User: s.user, Expires: s.expires.Unix()}
	for k := range s.scopes {
		rec.Scopes = append(rec.Scopes, [2]string{k.registry, k.repo})
	}
	if s.upToken != nil {
		rec.Upstream, rec.HasUpstream = s.upToken.Value(), true
	}
	plain, _ := json.Marshal(rec) // strings and numbers only
	aead := gcmFor(tok)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, []byte(sessionID(tok)))
}

// errSealed is openSession's error for a record that does not open with
// the token: another token's, changed, or not a record.
var errSealed = errors.New("the session record does not open with this token")

// openSession opens tok's sealed record into a session, or fails with
// errSealed. Its expiry is not checked here.
func openSession(tok string, sealed []byte) (*session, error) {
	aead := gcmFor(tok)
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errSealed
	}
	nonce, ct := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, ct, []byte(sessionID(tok)))
	if err != nil {
		return nil, errSealed
	}
	var rec sealedRecord
	if err := json.Unmarshal(plain, &rec); err != nil {
		return nil, errSealed
	}
	s := &session{user: rec.User, scopes: map[repoKey]bool{}, expires: time.Unix(rec.Expires, 0), access: map[repoKey]bool{}}
	for _, p := range rec.Scopes {
		s.scopes[repoKey{p[0], p[1]}] = true
	}
	if rec.HasUpstream {
		s.upToken = upstream.FixedToken(rec.Upstream)
	}
	return s, nil
}

// missCache remembers tokens the store had no session for, each for
// missTTL, at most maxMisses of them (the oldest are forgotten first).
type missCache struct {
	mu    sync.Mutex
	at    map[string]time.Time // token -> when it missed
	order []string             // tokens, oldest miss first
}

func newMissCache() *missCache { return &missCache{at: map[string]time.Time{}} }

// add remembers that tok missed at now.
func (c *missCache) add(tok string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.at[tok]; !ok {
		c.order = append(c.order, tok)
	}
	c.at[tok] = now
	for len(c.order) > maxMisses {
		delete(c.at, c.order[0])
		c.order = c.order[1:]
	}
}

// has reports whether tok missed less than missTTL before now.
func (c *missCache) has(tok string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.at[tok]
	return ok && now.Sub(at) < missTTL
}

// len is how many misses are remembered.
func (c *missCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.at)
}

// clear forgets every miss (the store changed).
func (c *missCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.order = map[string]time.Time{}, nil
}

// attach shares the sessions through cache's store while ctx lasts: it
// runs the janitor of dead records on wg, and detaches when ctx ends
// (before wg is done, so a cache that is closed after wg.Wait is not
// used). A cache without a store shares nothing.
func (st *sessionStore) attach(ctx context.Context, cache *store.Cache, log *slog.Logger, wg *sync.WaitGroup) {
	if !cache.SharesSessions() {
		return
	}
	st.share(cache, log)
	st.mu.Lock()
	st.runCtx = ctx // store reads end with the mirror, not with one waiter's request
	st.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer st.unshare(cache)
		st.janitor(ctx, cache, log)
	}()
}

// share makes b the place sessions are shared through; log is for its
// failures.
func (st *sessionStore) share(b sessionBackend, log *slog.Logger) {
	st.mu.Lock()
	st.shared, st.log = b, log
	st.mu.Unlock()
	st.misses.clear()
}

// unshare stops sharing through b, if it is still the one.
func (st *sessionStore) unshare(b sessionBackend) {
	st.mu.Lock()
	if st.shared == b {
		st.shared = nil
	}
	st.mu.Unlock()
}

// backend is where sessions are shared now (nil for nowhere), and the log
// of its failures.
func (st *sessionStore) backend() (sessionBackend, *slog.Logger) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.shared, st.log
}

// janitor deletes dead session records now and every sessionPruneEvery
// until ctx ends.
func (st *sessionStore) janitor(ctx context.Context, b sessionBackend, log *slog.Logger) {
	t := time.NewTicker(sessionPruneEvery)
	defer t.Stop()
	for {
		n, err := b.PruneSessions(ctx, sessionPruneAge)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("cannot delete expired sessions from the store: they stay until the next try", "err", err)
		case n > 0:
			log.Debug("expired sessions deleted from the store", "sessions", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publish writes s's sealed record under tok's name, before tok is handed
// out; nil when no store is shared. A session without an upstream token
// (upstream asks for none) is not shared: other mirrors refuse such
// records (read), and its token works on this mirror only.
func (st *sessionStore) publish(ctx context.Context, tok string, s *session) error {
	b, _ := st.backend()
	if b == nil || s.upToken == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	defer cancel()
	if err := b.PutSession(ctx, sessionID(tok), sealSession(tok, s)); err != nil {
		return fmt.Errorf("write the session to the store: %w", err)
	}
	return nil
}

// load reads tok's session from the store, once at a time per token, and
// keeps it; nil when the store has none that opens with tok and is live.
func (st *sessionStore) load(ctx context.Context, tok string) *session {
	b, log := st.backend()
	if b == nil || !looksLikeToken(tok) || st.misses.has(tok, st.clock()) {
		return nil
	}
	st.mu.Lock()
	call := st.loading[tok]
	if call == nil {
		call = &loadCall{done: make(chan struct{})}
		st.loading[tok] = call
		st.mu.Unlock()
		call.s = st.read(ctx, b, log, tok)
		st.mu.Lock()
		delete(st.loading, tok)
		if call.s != nil {
			st.keepLocked(tok, call.s)
		}
		st.mu.Unlock()
		close(call.done)
		return call.s
	}
	st.mu.Unlock()
	select {
	case <-call.done:
		return call.s
	case <-ctx.Done():
		return nil
	}
}

// loadCall is one read of a token's session that others wait for.
type loadCall struct {
	done chan struct{}
	s    *session // set before done is closed
}

// read reads and opens tok's record, at most maxSessionReads at once. A
// token whose record is missing, does not open or is dead is remembered
// as a miss; one the store could not be asked about is not (the next
// request asks again). A record that opens is honoured for at most
// maxSessionTTL from now, whatever it says, and only with the user's
// upstream token in it: the mirrors write none without one, and a session
// without it would act with this mirror's own account.
func (st *sessionStore) read(ctx context.Context, b sessionBackend, log *slog.Logger, tok string) *session {
	// Other requests may wait for this read (load): it ends with the
	// mirror, not with the request that started it.
	st.mu.Lock()
	run := st.runCtx
	st.mu.Unlock()
	if run == nil {
		run = context.WithoutCancel(ctx)
	}
	wait := time.NewTimer(sessionReadWait)
	defer wait.Stop()
	select {
	case st.reads <- struct{}{}:
		defer func() { <-st.reads }()
	case <-wait.C:
		return nil
	case <-run.Done():
		return nil
	}
	ctx, cancel := context.WithTimeout(run, sharedTimeout)
	defer cancel()
	sealed, err := b.Session(ctx, sessionID(tok))
	var s *session
	switch {
	case errors.Is(err, store.ErrNoSession):
	case err != nil:
		if log != nil {
			log.Warn("cannot read a session from the store: the client is asked to log in again", "err", err)
		}
		return nil
	default:
		if s, err = openSession(tok, sealed); err != nil && log != nil {
			log.Warn("a session record in the store does not open with the token it is named by: refused (it was changed, or not written by a mirror)", "record", "sessions/"+sessionID(tok))
		}
	}
	now := st.clock()
	if s != nil && s.upToken == nil {
		if log != nil {
			log.Warn("a session record in the store has no upstream token: refused (a mirror writes none without one)", "record", "sessions/"+sessionID(tok))
		}
		s = nil
	}
	if s == nil || now.After(s.expires) {
		st.misses.add(tok, now)
		return nil
	}
	if limit := now.Add(maxSessionTTL); s.expires.After(limit) {
		s.expires = limit
	}
	return s
}
