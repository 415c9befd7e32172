package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// tokenSource answers an upstream registry's authentication challenges and
// keeps bearer tokens per scope until they expire (Docker token
// authentication spec, "Requesting a Token").
type tokenSource struct {
	registry  string
	client    *http.Client
	userAgent string // sent with every token request
	stats     *Stats
	creds     Credentials // the mirror's own account; nil for anonymous
	log       *slog.Logger

	mu        sync.Mutex
	challenge *Challenge             // last challenge the registry sent
	entries   map[string]*tokenEntry // by scope
}

// tokenEntry holds one scope's token. Its own mutex makes concurrent requests
// for one scope wait for a single token request instead of each sending one.
type tokenEntry struct {
	mu      sync.Mutex
	token   string
	expires time.Time
}

func newTokenSource(registry string, client *http.Client, userAgent string, st *Stats, creds Credentials, log *slog.Logger) *tokenSource {
	return &tokenSource{registry: registry, client: client, userAgent: userAgent, stats: st, creds: creds, log: log, entries: map[string]*tokenEntry{}}
}

// account returns the stored credentials for the registry, if any. A
// keyring that cannot be read is logged and the mirror goes on anonymously.
func (ts *tokenSource) account() (account, bool) {
	if ts.creds == nil {
		return account{}, false
	}
	user, pass, ok, err := ts.creds(ts.registry)
	if err != nil {
		ts.log.Warn("cannot read stored credentials; pulling anonymously", "registry", ts.registry, "err", err)
		return account{}, false
	}
	return account{user: user, password: pass}, ok && user != ""
}

// account is a username and password for a token service.
type account struct{ user, password string }

// known returns the last challenge, or nil before the first 401.
func (ts *tokenSource) known() *Challenge {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.challenge
}

// remember stores the registry's challenge for later requests.
func (ts *tokenSource) remember(c Challenge) {
	ts.mu.Lock()
	ts.challenge = &c
	ts.mu.Unlock()
}

func (ts *tokenSource) entry(scope string) *tokenEntry {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	e := ts.entries[scope]
	if e == nil {
		e = &tokenEntry{}
		ts.entries[scope] = e
	}
	return e
}

// authorize sets the Authorization header for scope, fetching a token if
// none is cached. stale, when not empty, is a token upstream just refused:
// it is dropped instead of reused. With no challenge seen yet it does nothing.
func (ts *tokenSource) authorize(ctx context.Context, req *http.Request, scope, stale string) error {
	c := ts.known()
	if c == nil {
		return nil
	}
	switch c.Scheme {
	case "bearer":
		tok, err := ts.token(ctx, *c, scope, stale)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case "basic":
		if a, ok := ts.account(); ok {
			req.SetBasicAuth(a.user, a.password)
		}
	}
	return nil
}

func (ts *tokenSource) token(ctx context.Context, c Challenge, scope, stale string) (string, error) {
	e := ts.entry(scope)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.token != "" && e.token != stale && time.Now().Before(e.expires) {
		return e.token, nil
	}
	a, hasAccount := ts.account()
	tok, ttl, err := ts.fetch(ctx, c, []string{scope}, a, hasAccount)
	if err != nil && hasAccount && errors.Is(err, oci.ErrDenied) {
		ts.log.Warn("upstream refused the stored credentials; pulling anonymously (run hubmirror login again)",
			"registry", ts.registry, "user", a.user)
		tok, ttl, err = ts.fetch(ctx, c, []string{scope}, account{}, false)
	}
	if err != nil {
		e.token = ""
		return "", err
	}
	e.token, e.expires = tok, time.Now().Add(ttl)
	return tok, nil
}

// tokenReply is the token endpoint's JSON. Both names are in use.
type tokenReply struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// fetch asks the realm for a token for scopes, with a's credentials when
// withAccount is set (the "account" parameter names the user, as docker
// login sends it). The spec's default lifetime is 60 s; a margin keeps a
// token from expiring between check and use. A wrong password is oci.ErrDenied.
func (ts *tokenSource) fetch(ctx context.Context, c Challenge, scopes []string, a account, withAccount bool) (string, time.Duration, error) {
	realm, err := url.Parse(c.Params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") || realm.Host == "" {
		return "", 0, fmt.Errorf("%w: %s sent an unusable token realm", oci.ErrDenied, ts.registry)
	}
	q := realm.Query()
	if s := c.Params["service"]; s != "" {
		q.Set("service", s)
	}
	for _, scope := range scopes {
		if scope != "" {
			q.Add("scope", scope)
		}
	}
	if withAccount {
		q.Set("account", a.user)
	}
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("User-Agent", ts.userAgent)
	if withAccount {
		req.SetBasicAuth(a.user, a.password)
	}
	ts.stats.count(kindToken)
	resp, err := ts.client.Do(req)
	if err != nil {
		return "", 0, unreachable(ts.registry, req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return "", 0, unreachable(ts.registry, req, err)
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", 0, fmt.Errorf("%w: token service of %s answered 429", oci.ErrTooManyRequests, ts.registry)
	case resp.StatusCode >= 500:
		return "", 0, fmt.Errorf("%w: token service of %s answered %d", oci.ErrUnreachable, ts.registry, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return "", 0, fmt.Errorf("%w: token service of %s answered %d", oci.ErrDenied, ts.registry, resp.StatusCode)
	}
	var r tokenReply
	if err := json.Unmarshal(body, &r); err != nil {
		return "", 0, fmt.Errorf("%w: token service of %s sent malformed JSON", oci.ErrUnreachable, ts.registry)
	}
	tok := r.Token
	if tok == "" {
		tok = r.AccessToken
	}
	if tok == "" {
		return "", 0, fmt.Errorf("%w: token service of %s sent no token", oci.ErrDenied, ts.registry)
	}
	ttl := 60 * time.Second
	if r.ExpiresIn > 0 {
		ttl = time.Duration(r.ExpiresIn) * time.Second
	}
	if ttl > 20*time.Second {
		ttl -= 10 * time.Second
	} else {
		ttl = ttl * 3 / 4
	}
	return tok, ttl, nil
}
