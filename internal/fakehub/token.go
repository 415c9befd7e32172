package fakehub

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// DefaultTokenTTL is the lifetime of a token until SetTokenTTL changes it.
const DefaultTokenTTL = 300 * time.Second

// auth is the token service's state. Its fields are guarded by Hub.mu.
type auth struct {
	users      map[string]string // user -> password
	tokens     map[string]*token
	signatures map[string]signedURL // CDN URL signature -> what it grants
	tokenTTL   time.Duration
	advertised int // expires_in override in seconds, 0 to follow tokenTTL
}

// token is an issued bearer token.
type token struct {
	user    string          // "" for anonymous
	pull    map[string]bool // repositories granted pull
	expires time.Time
}

func newAuth() auth {
	return auth{
		users:      map[string]string{},
		tokens:     map[string]*token{},
		signatures: map[string]signedURL{},
		tokenTTL:   DefaultTokenTTL,
	}
}

// AddUser registers an account the token service accepts in HTTP Basic
// credentials. Adding a user again changes the password.
func (h *Hub) AddUser(user, password string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users[user] = password
}

// SetPrivate makes repo private to owner: only tokens issued to owner grant
// pull on it. An empty owner makes it public again.
func (h *Hub) SetPrivate(repo, owner string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.repo(repo).owner = owner
}

// SetTokenTTL sets the lifetime of tokens issued from now on, and the
// expires_in they advertise (in whole seconds, at least 1).
func (h *Hub) SetTokenTTL(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokenTTL = d
}

// SetAdvertisedExpiry makes token replies advertise expires_in = seconds
// whatever the real lifetime; 0 follows the TTL again.
func (h *Hub) SetAdvertisedExpiry(seconds int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.advertised = seconds
}

// ExpireTokens makes every token issued so far invalid at once.
func (h *Hub) ExpireTokens() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokens = map[string]*token{}
}

// tokenReply is the token service's answer.
type tokenReply struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// serveToken implements the Docker token service: GET /token with service
// and any number of scope parameters, anonymous or with HTTP Basic
// credentials. offline_token, account and client_id are accepted and ignored.
func (h *Hub) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		writeTokenError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeTokenError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	q := r.URL.Query()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counters.TokenRequests++
	if svc := q.Get("service"); svc != Service {
		h.counters.TokenFailures++
		writeTokenError(w, http.StatusBadRequest, "unknown service "+svc)
		return
	}
	tok := &token{pull: map[string]bool{}}
	if user, password, ok := r.BasicAuth(); ok {
		if want, known := h.users[user]; !known || want != password {
			h.counters.TokenFailures++
			writeTokenError(w, http.StatusUnauthorized, "incorrect username or password")
			return
		}
		tok.user = user
	}
	for _, scope := range q["scope"] {
		for _, repo := range pullScopes(scope) {
			// Like Docker Hub, a token is issued for a repository that does
			// not exist or is not the caller's, without the access.
			if rp := h.repos[repo]; rp != nil && (rp.owner == "" || rp.owner == tok.user) {
				tok.pull[repo] = true
			}
		}
	}
	issued := h.now()
	tok.expires = issued.Add(h.tokenTTL)
	value := rand.Text()
	h.tokens[value] = tok
	expiresIn := h.advertised
	if expiresIn == 0 {
		expiresIn = max(1, int(h.tokenTTL/time.Second))
	}
	writeJSON(w, http.StatusOK, tokenReply{
		Token:       value,
		AccessToken: value,
		ExpiresIn:   expiresIn,
		IssuedAt:    issued.UTC().Format(time.RFC3339),
	})
}

// pullScopes returns the repositories a scope parameter asks to pull. A
// parameter may hold several space-separated scopes, each
// "repository:<name>:<actions>".
func pullScopes(param string) []string {
	var repos []string
	for _, scope := range strings.Fields(param) {
		typ, rest, ok := strings.Cut(scope, ":")
		if !ok || (typ != "repository" && !strings.HasPrefix(typ, "repository(")) {
			continue
		}
		i := strings.LastIndex(rest, ":")
		if i < 0 {
			continue
		}
		for _, action := range strings.Split(rest[i+1:], ",") {
			if action == "pull" || action == "*" {
				repos = append(repos, rest[:i])
				break
			}
		}
	}
	return repos
}

// Outcomes of checking a registry request's bearer token.
const (
	authOK           = iota
	authNoToken      // no bearer token presented
	authInvalid      // unknown or expired token
	authInsufficient // valid token without pull on the repository
)

// authorize checks r's bearer token for pull on repo, or for any access
// when repo is "". The caller holds h.mu.
func (h *Hub) authorize(r *http.Request, repo string) int {
	scheme, value, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return authNoToken
	}
	tok := h.tokens[strings.TrimSpace(value)]
	if tok == nil || !h.now().Before(tok.expires) {
		return authInvalid
	}
	if repo != "" && !tok.pull[repo] {
		return authInsufficient
	}
	return authOK
}

// writeTokenError writes the token service's error JSON.
func writeTokenError(w http.ResponseWriter, status int, details string) {
	writeJSON(w, status, map[string]string{"details": details})
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
