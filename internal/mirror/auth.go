package mirror

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// Access is who may pull. It can change while the mirror runs.
type Access struct {
	// SelfAuth makes the mirror its own token realm: clients log in to it
	// (docker login), it checks their passwords with upstream's token
	// service, and every pull needs a token it issued.
	SelfAuth bool
	// AllowedUsers, when not empty and SelfAuth is on, are the only users
	// who get tokens. Removing one revokes the tokens they hold.
	AllowedUsers []string
}

// accessPolicy is Access prepared for lookups.
type accessPolicy struct {
	selfAuth bool
	allowed  map[string]bool
}

func newPolicy(a Access) *accessPolicy {
	p := &accessPolicy{selfAuth: a.SelfAuth, allowed: map[string]bool{}}
	for _, u := range a.AllowedUsers {
		p.allowed[u] = true
	}
	return p
}

// permits reports whether user may hold a token under this policy.
func (p *accessPolicy) permits(user string) bool {
	return len(p.allowed) == 0 || p.allowed[user]
}

// selfAuthService is the service name in the mirror's own challenges.
const selfAuthService = "hubmirror"

// defaultSessionTTL is a token's lifetime when upstream names none.
const defaultSessionTTL = 5 * time.Minute

// session is what one token the mirror issued stands for: a user, the
// repositories it may pull, and the upstream token that acts for that user.
type session struct {
	user    string              // "" when anonymous
	scopes  map[repoKey]bool    // the repositories it may pull
	upToken *upstream.UserToken // upstream's token for the same user and scopes; nil: none needed
	expires time.Time

	mu     sync.Mutex
	access map[repoKey]bool // upstream said this user may (not) read it
}

// repoKey names a repository on one registry. Every access decision is
// keyed by both: the same name on two registries is two repositories.
type repoKey struct{ registry, repo string }

// token returns the upstream token to act with at registry: the user's
// for Docker Hub, or nil (the mirror's own account) for no session and for
// other registries.
func (s *session) token(registry string) *upstream.UserToken {
	if s == nil || registry != dockerHub {
		return nil
	}
	return s.upToken
}

// mayRead reports what upstream said about registry's repo for this
// session, if it said anything yet.
func (s *session) mayRead(registry, repo string) (allowed, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	allowed, known = s.access[repoKey{registry, repo}]
	return allowed, known
}

func (s *session) noteAccess(registry, repo string, allowed bool) {
	s.mu.Lock()
	s.access[repoKey{registry, repo}] = allowed
	s.mu.Unlock()
}

// sessionStore holds issued tokens in memory: a restart revokes them all,
// and clients log in again on the next 401, as they do when tokens expire.
// With an object store behind the cache it also shares them with the other
// mirrors on that store (sessions_shared.go).
type sessionStore struct {
	mu  sync.Mutex
	m   map[string]*session
	now func() time.Time // the clock; tests move it
	// logins throttles password guessing at /v2/auth (throttle.go).
	logins *loginThrottle

	shared  sessionBackend       // where sessions are shared; nil: nowhere
	log     *slog.Logger         // for shared's failures
	loading map[string]*loadCall // tokens being read from shared
	misses  *missCache           // tokens shared has no session for
	reads   chan struct{}        // store reads of sessions running now, at most maxSessionReads
	runCtx  context.Context      // the running mirror's, which store reads end with; nil: none attached
}

func newSessionStore() *sessionStore {
	return &sessionStore{
		m: map[string]*session{}, now: time.Now, logins: newLoginThrottle(),
		loading: map[string]*loadCall{}, misses: newMissCache(), reads: make(chan struct{}, maxSessionReads),
	}
}

// issue stores s and returns its token: 32 random bytes, hex. With a
// store shared, the session is written there before the token is
// returned; when that fails, the token works on this mirror only and err
// says why.
func (st *sessionStore) issue(ctx context.Context, s *session) (tok string, err error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok = hex.EncodeToString(b[:])
	err = st.publish(ctx, tok, s)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.keepLocked(tok, s)
	return tok, err
}

// keepLocked keeps tok's session s, and forgets the sessions that have
// expired. st.mu is held.
func (st *sessionStore) keepLocked(tok string, s *session) {
	now := st.now()
	for k, old := range st.m {
		if now.After(old.expires) {
			delete(st.m, k)
		}
	}
	st.m[tok] = s
}

func (st *sessionStore) clock() time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.now()
}

// get returns the live session of a token, or nil. A token this mirror
// does not know is looked up in the shared store, if there is one.
func (st *sessionStore) get(ctx context.Context, tok string) *session {
	st.mu.Lock()
	s := st.m[tok]
	now := st.now()
	st.mu.Unlock()
	if s == nil {
		s = st.load(ctx, tok)
	}
	if s == nil || now.After(s.expires) {
		return nil
	}
	return s
}

// loginFirst says how to log in, for both ways clients reach the mirror:
// through docker's registry-mirrors, dockerd sends the credentials of
// `docker login` to Docker Hub (no host), not those for the mirror's host;
// names that include the mirror's host use `docker login HOST`.
func loginFirst(host string) string {
	return fmt.Sprintf(i18n.Key("log in first: with registry-mirrors, docker login (to Docker Hub, no host) with an allowed account; "+
		"for names that include the mirror's address, docker login %s"), host)
}

// serveAuth is the mirror's token endpoint (Docker token authentication
// spec, "Requesting a Token"), at /v2/auth when SelfAuth is on. It forwards
// the client's Basic credentials, and the scopes it asks for, to upstream's
// token service: upstream decides whether the password is right.
func (s *server) serveAuth(w *recorder, r *http.Request) error {
	pol := s.policy()
	if !pol.selfAuth {
		return newError(codeNameUnknown, "this mirror issues no tokens (self_auth is off)")
	}
	user, password, hasCreds := r.BasicAuth()
	w.name = "/v2/auth"
	if len(pol.allowed) > 0 {
		if !hasCreds {
			w.Header().Set("WWW-Authenticate", `Basic realm="hubmirror"`)
			return newError(codeUnauthorized, loginFirst(r.Host))
		}
		if !pol.allowed[user] {
			return newError(codeDenied, fmt.Sprintf("user %q may not pull from this mirror", user))
		}
	}
	attempt, refused := s.beginLogin(r, user, hasCreds) // password guessing: see throttle.go
	if refused != nil {
		refused.write(w) // not via writeError: one log line per lock, not per refusal
		return nil
	}
	defer attempt.end()
	// Docker Hub checks the password; scopes of other registries are
	// granted here and read upstream with the mirror's own account.
	up := s.upstreams[dockerHub].client
	var upstreamScopes []string
	granted := map[repoKey]bool{}
	for _, sc := range r.URL.Query()["scope"] {
		name, ok := pullScope(sc)
		if !ok {
			continue
		}
		registry, repo := s.registryFor(r, name)
		if s.upstreams[registry] == nil || repo == "" {
			continue
		}
		repo = repoName(registry, repo)
		granted[repoKey{registry, repo}] = true
		if registry == dockerHub {
			upstreamScopes = append(upstreamScopes, "repository:"+repo+":pull")
		}
	}
	needsToken, err := up.NeedsToken(r.Context())
	if err != nil {
		return err
	}
	ttl := defaultSessionTTL
	var ut *upstream.UserToken
	if needsToken {
		if ut, ttl, err = up.Login(r.Context(), upstreamScopes, user, password, hasCreds); err != nil {
			if errors.Is(err, ErrDenied) {
				attempt.failed()
				w.Header().Set("WWW-Authenticate", `Basic realm="hubmirror"`)
				return newError(codeUnauthorized, "incorrect username or password")
			}
			return err
		}
		attempt.succeeded()
	}
	if !hasCreds {
		user = ""
	}
	ttl = min(ttl, maxSessionTTL)
	sess := &session{user: user, scopes: granted, upToken: ut, expires: s.sessions.clock().Add(ttl), access: map[repoKey]bool{}}
	mine, err := s.sessions.issue(r.Context(), sess)
	if err != nil {
		s.log.Warn("the token works on this mirror only, not on the others sharing the store: the mirror needs to create objects under the store's sessions/ (s3:PutObject)", "err", err)
	}
	s.log.Info("token issued", "user", user, "repositories", len(granted))
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{
		"token": mine, "access_token": mine,
		"expires_in": int(ttl.Seconds()), "issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

// pullScope reads "repository:NAME:pull[,push...]" and returns NAME when it
// is valid and the actions include pull.
func pullScope(sc string) (string, bool) {
	rest, ok := strings.CutPrefix(sc, "repository:")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return "", false
	}
	name, actions := rest[:i], strings.Split(rest[i+1:], ",")
	for _, a := range actions {
		if (a == "pull" || a == "*") && validName(name) {
			return name, true
		}
	}
	return "", false
}

// authorize checks the client's token when SelfAuth is on and returns its
// session (nil when SelfAuth is off). A missing, expired, revoked or
// too-narrow token gets a 401 challenge naming the mirror as the realm,
// whether or not the content is cached.
func (s *server) authorize(w *recorder, r *http.Request, rt *route, clientName string) (*session, error) {
	pol := s.policy()
	if !pol.selfAuth {
		return nil, nil
	}
	// Only tokens the mirror issued pass: its own fetches (pins,
	// prefetch) do not come through here (fetch.go).
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sess := s.sessions.get(r.Context(), tok)
	problem := ""
	switch {
	case sess == nil:
		problem = "authentication required"
	case !pol.permits(sess.user):
		problem = "this user may no longer pull from this mirror"
	case rt.kind != "base" && !sess.scopes[repoKey{rt.registry.name, rt.repo}]:
		problem = "the token does not grant pull on " + rt.repo
	default:
		return sess, nil
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	ch := fmt.Sprintf(`Bearer realm="%s://%s/v2/auth",service="%s"`, scheme, r.Host, selfAuthService)
	if rt.kind != "base" {
		ch += fmt.Sprintf(`,scope="repository:%s:pull"`, clientName)
	}
	w.Header().Set("WWW-Authenticate", ch)
	return nil, newError(codeUnauthorized, problem)
}

// checkAccess makes sure the cache never widens access: before content of
// repo is served to a session from the cache, upstream must have said this
// user may read repo and that d (a blob or manifest digest) belongs to repo.
// It asks upstream with a HEAD and the user's token when it does not know.
func (s *server) checkAccess(ctx context.Context, sess *session, rt *route) error {
	if sess == nil {
		return nil
	}
	reg := rt.registry.name
	allowed, known := sess.mayRead(reg, rt.repo)
	if known && !allowed {
		return fmt.Errorf("%s: %w", rt.repo, ErrDenied)
	}
	if known && (rt.digest == "" || s.links.has(reg, rt.repo, rt.digest)) {
		return nil
	}
	var err error
	if rt.kind == "blob" {
		_, err = rt.up.HeadBlob(ctx, rt.repo, rt.digest)
	} else {
		ref := rt.tag
		if rt.digest != "" {
			ref = string(rt.digest)
		}
		_, err = rt.up.HeadManifest(ctx, rt.repo, ref, defaultAccept)
	}
	if err != nil {
		if st := upstream.StatusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
			sess.noteAccess(reg, rt.repo, false)
		}
		return err
	}
	sess.noteAccess(reg, rt.repo, true)
	if rt.digest != "" {
		s.links.add(reg, rt.repo, rt.digest)
	}
	return nil
}

// linkSet remembers which digests belong to which repository, learned from
// manifests and upstream answers, so a digest is not served from the cache
// under the name of a repository it is not in. Only sessions (SelfAuth)
// ask, so only their pulls record links. It keeps at most max links and
// forgets the least recently used first: a forgotten link costs one HEAD
// upstream when it is needed again, never a wrong answer.
type linkSet struct {
	mu  sync.Mutex
	max int
	m   map[link]*list.Element // of link, in lru
	lru *list.List             // most recently used first
}

// maxLinks bounds the links a mirror keeps: some 2,000 images of 15 blobs,
// a few MiB.
const maxLinks = 1 << 15

// link is one digest in one registry's repository.
type link struct {
	repoKey
	digest digest.Digest
}

// newLinkSet returns an empty set that keeps at most limit links (at
// least 1).
func newLinkSet(limit int) *linkSet {
	return &linkSet{max: max(limit, 1), m: map[link]*list.Element{}, lru: list.New()}
}

// add records that d belongs to registry's repo, as its most recent link.
func (l *linkSet) add(registry, repo string, d digest.Digest) {
	k := link{repoKey{registry, repo}, d}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[k]; ok {
		l.lru.MoveToFront(e)
		return
	}
	l.m[k] = l.lru.PushFront(k)
	for l.lru.Len() > l.max {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.m, oldest.Value.(link))
	}
}

// has reports whether d is known to belong to registry's repo; a link
// found counts as used.
func (l *linkSet) has(registry, repo string, d digest.Digest) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[link{repoKey{registry, repo}, d}]
	if ok {
		l.lru.MoveToFront(e)
	}
	return ok
}

// len returns the number of links kept.
func (l *linkSet) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// clear forgets every link (SelfAuth was turned off: nobody asks any more).
func (l *linkSet) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m = map[link]*list.Element{}
	l.lru.Init()
}

// addManifest links a manifest and everything it references to repo.
func (l *linkSet) addManifest(registry, repo string, cm store.Manifest) {
	l.add(registry, repo, cm.Digest)
	refs, _ := oci.ManifestRefs(cm.Data) // not JSON: names nothing
	for _, d := range oci.Digests(refs.Blobs, refs.Children) {
		l.add(registry, repo, d)
	}
}
