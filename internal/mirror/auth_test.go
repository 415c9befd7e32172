package mirror

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// startAuthMirror starts a mirror with SelfAuth on and the given allow-list.
func startAuthMirror(t *testing.T, hub *fakehub.Hub, allowed ...string) *testMirror {
	t.Helper()
	return startMirrorCfg(t, hub, func(c *Config) {
		c.Access = Access{SelfAuth: true, AllowedUsers: allowed}
	})
}

// login asks the mirror's token endpoint for a token the way docker does;
// user "" sends no credentials. It returns the status and the token.
func (tm *testMirror) login(t *testing.T, user, password string, repos ...string) (int, string) {
	t.Helper()
	q := url.Values{"service": {"hubmirror"}, "client_id": {"docker"}}
	if user != "" {
		q.Set("account", user)
		q.Set("offline_token", "true")
	}
	for _, r := range repos {
		q.Add("scope", "repository:"+r+":pull")
	}
	req, _ := http.NewRequest(http.MethodGet, tm.base+"/v2/auth?"+q.Encode(), nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	addSecret(body.Token)
	addSecret(password)
	return resp.StatusCode, body.Token
}

// pullWith fetches an image's manifest and blobs with a bearer token and
// returns the first status that is not 200, or 200.
func (tm *testMirror) pullWith(t *testing.T, token, name string, img fakehub.Image) int {
	t.Helper()
	paths := []string{"/v2/" + name + "/manifests/" + img.Tag, "/v2/" + name + "/manifests/" + img.Digest}
	for _, b := range append([]fakehub.Blob{img.Config}, img.Layers...) {
		paths = append(paths, "/v2/"+name+"/blobs/"+b.Digest)
	}
	for _, p := range paths {
		r := tm.get(t, p, "Authorization", "Bearer "+token, "Accept", fullAccept)
		if r.status != http.StatusOK {
			return r.status
		}
	}
	return http.StatusOK
}

// The docker login flow: GET /v2/ → 401 naming /v2/auth → token request
// with Basic, account and offline_token, no scope.
func TestSelfAuthDockerLoginFlow(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "right-password")
	tm := startAuthMirror(t, hub)

	r := tm.get(t, "/v2/")
	if r.status != http.StatusUnauthorized || errorCode(t, r) != codeUnauthorized {
		t.Fatalf("GET /v2/ without a token: %d %s", r.status, r.body)
	}
	want := `Bearer realm="http://` + tm.Addr() + `/v2/auth",service="hubmirror"`
	if got := r.header.Get("WWW-Authenticate"); got != want {
		t.Errorf("challenge %q, want %q", got, want)
	}
	if st, _ := tm.login(t, "alice", "wrong-password"); st != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", st)
	}
	st, tok := tm.login(t, "alice", "right-password")
	if st != http.StatusOK || tok == "" {
		t.Fatalf("right password: %d %q", st, tok)
	}
	if r := tm.get(t, "/v2/", "Authorization", "Bearer "+tok); r.status != http.StatusOK {
		t.Errorf("GET /v2/ with the token: %d", r.status)
	}
	var sawBasic bool
	for _, q := range hub.Requests() {
		if q.Server == fakehub.ServerAuth && strings.HasPrefix(q.Authorization, "Basic ") {
			sawBasic = true
		}
	}
	if !sawBasic {
		t.Errorf("the password was not checked by upstream's token service")
	}
}

// Pulls need a valid token for the repository, also for cached content;
// forged, expired and wrong-scope tokens are refused.
func TestSelfAuthTokens(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("a"))
	other := hub.AddImage("library/busybox", "latest", []byte("b"))
	tm := startAuthMirror(t, hub)

	st, tok := tm.login(t, "", "", "alpine")
	if st != http.StatusOK {
		t.Fatalf("anonymous token: %d", st)
	}
	if got := tm.pullWith(t, tok, "alpine", img); got != http.StatusOK {
		t.Fatalf("pull with a token: %d", got)
	}
	blob := "/v2/alpine/blobs/" + img.Layers[0].Digest // cached now
	for _, tc := range []struct {
		name, auth, path string
	}{
		{"no token, cached blob", "", blob},
		{"forged token", "Bearer " + strings.Repeat("ab", 32), blob},
		{"basic instead of bearer", "Basic " + base64.StdEncoding.EncodeToString([]byte("a:b")), blob},
		{"token for another repository", "Bearer " + tok, "/v2/busybox/manifests/latest"},
		{"token for another repository, blob", "Bearer " + tok, "/v2/busybox/blobs/" + other.Layers[0].Digest},
	} {
		r := tm.get(t, tc.path, "Authorization", tc.auth)
		if r.status != http.StatusUnauthorized || errorCode(t, r) != codeUnauthorized {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
		if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `scope="repository:`) {
			t.Errorf("%s: challenge without scope: %q", tc.name, ch)
		}
	}

	tm.sessions.mu.Lock()
	tm.sessions.now = func() time.Time { return time.Now().Add(time.Hour) }
	tm.sessions.mu.Unlock()
	if r := tm.get(t, blob, "Authorization", "Bearer "+tok); r.status != http.StatusUnauthorized {
		t.Errorf("expired token: %d", r.status)
	}
}

// With an allow-list, only listed users get tokens, and removing a user
// revokes their tokens at once.
func TestSelfAuthAllowList(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	hub.AddUser("bobby", "bobby-pw")
	img := hub.AddImage("library/alpine", "latest", []byte("a"))
	tm := startAuthMirror(t, hub, "alice")

	if st, _ := tm.login(t, "", "", "alpine"); st != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", st)
	}
	// The 401 says both ways to log in: dockerd's registry-mirrors send
	// the Docker Hub login, names with the mirror's host use that host's.
	anon := tm.get(t, "/v2/auth?service=hubmirror&scope=repository:alpine:pull")
	host := strings.TrimPrefix(tm.base, "http://")
	for _, want := range []string{"registry-mirrors", "docker login (to Docker Hub, no host)", "docker login " + host} {
		if !strings.Contains(string(anon.body), want) {
			t.Errorf("the 401 lacks %q: %s", want, anon.body)
		}
	}
	if st, _ := tm.login(t, "bobby", "bobby-pw", "alpine"); st != http.StatusForbidden {
		t.Errorf("unlisted user: %d, want 403", st)
	}
	q := url.Values{"service": {"hubmirror"}, "scope": {"repository:alpine:pull"}}
	r := tm.get(t, "/v2/auth?"+q.Encode(), "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("bobby:bobby-pw")))
	if errorCode(t, r) != codeDenied || !strings.Contains(string(r.body), `user \"bobby\" may not pull`) {
		t.Errorf("unlisted user's answer: %s", r.body)
	}
	st, tok := tm.login(t, "alice", "alice-pw", "alpine")
	if st != http.StatusOK {
		t.Fatalf("listed user: %d", st)
	}
	if got := tm.pullWith(t, tok, "alpine", img); got != http.StatusOK {
		t.Fatalf("listed user pulls: %d", got)
	}

	tm.SetAccess(Access{SelfAuth: true, AllowedUsers: []string{"bobby"}})
	if got := tm.pullWith(t, tok, "alpine", img); got != http.StatusUnauthorized {
		t.Errorf("removed user's token: %d, want 401", got)
	}
	if st, _ := tm.login(t, "alice", "alice-pw", "alpine"); st != http.StatusForbidden {
		t.Errorf("removed user logs in: %d, want 403", st)
	}
	tm.SetAccess(Access{})
	if r := tm.get(t, "/v2/alpine/manifests/latest"); r.status != http.StatusOK {
		t.Errorf("self_auth off: %d", r.status)
	}
}

// What one user pulled from a private repository cannot be read through
// the cache by another: not by tag, not by digest, not under another name.
func TestSelfAuthCacheNeverWidensAccess(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	hub.AddUser("bobby", "bobby-pw")
	secret := hub.AddImage("alice/secret", "v1", []byte("alice's private layer"))
	hub.SetPrivate("alice/secret", "alice")
	hub.AddImage("library/alpine", "latest", []byte("public"))
	tm := startAuthMirror(t, hub)

	_, alice := tm.login(t, "alice", "alice-pw", "alice/secret")
	if got := tm.pullWith(t, alice, "alice/secret", secret); got != http.StatusOK {
		t.Fatalf("alice pulls her image: %d", got)
	}
	cdnBefore := hub.Counters().CDNGets

	_, bob := tm.login(t, "bobby", "bobby-pw", "alice/secret", "alpine")
	layer := secret.Layers[0].Digest
	for _, path := range []string{
		"/v2/alice/secret/manifests/v1",
		"/v2/alice/secret/manifests/" + secret.Digest,
		"/v2/alice/secret/blobs/" + layer,
		"/v2/alice/secret/blobs/" + secret.Config.Digest,
		"/v2/alpine/blobs/" + layer,
		"/v2/alpine/manifests/" + secret.Digest,
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := tm.do(t, method, path, "Authorization", "Bearer "+bob, "Accept", fullAccept)
			if r.status == http.StatusOK || strings.Contains(string(r.body), "private layer") {
				t.Errorf("bobby %s %s: %d", method, path, r.status)
			}
		}
	}
	if hub.Counters().CDNGets != cdnBefore {
		t.Errorf("bobby's requests downloaded blobs upstream")
	}
	// Alice still reads it from the cache.
	if got := tm.pullWith(t, alice, "alice/secret", secret); got != http.StatusOK {
		t.Errorf("alice again: %d", got)
	}
}

// With SelfAuth off, the stored account is used for upstream tokens.
func TestStoredCredentialsAreUsed(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	secret := hub.AddImage("alice/secret", "v1", []byte("private"))
	hub.SetPrivate("alice/secret", "alice")
	var mu sync.Mutex
	stored := map[string][2]string{}
	tm := startMirrorCfg(t, hub, func(c *Config) {
		c.Credentials = func(registry string) (string, string, bool, error) {
			mu.Lock()
			defer mu.Unlock()
			a, ok := stored[registry]
			return a[0], a[1], ok, nil
		}
	})
	if r := tm.get(t, "/v2/alice/secret/manifests/v1"); r.status != http.StatusNotFound {
		t.Fatalf("anonymous pull of a private image: %d", r.status)
	}
	mu.Lock()
	stored["docker.io"] = [2]string{"alice", "alice-pw"}
	mu.Unlock()
	tm2 := startMirrorCfg(t, hub, func(c *Config) { c.Credentials = tm.cfg.Credentials })
	tm2.pull(t, "alice/secret", secret)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:alice-pw"))
	var seen bool
	for _, q := range hub.Requests() {
		if q.Server == fakehub.ServerAuth && q.Authorization == basic {
			seen = true
		}
		if q.Server != fakehub.ServerAuth && strings.HasPrefix(q.Authorization, "Basic ") {
			t.Errorf("credentials sent to the %s server", q.Server)
		}
	}
	if !seen {
		t.Errorf("the token service never saw the stored account")
	}
	if strings.Contains(tm2.logs.String(), "alice-pw") {
		t.Errorf("the password reached the log")
	}
}

// No password or token from the auth tests reaches a log line, an error
// body or /metrics.
func TestSelfAuthSecretsStayOut(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "pw-alice-123")
	img := hub.AddImage("library/alpine", "latest", []byte("a"))
	tm := startAuthMirror(t, hub, "alice")
	var bodies []string
	_, tok := tm.login(t, "alice", "pw-alice-123", "alpine")
	tm.login(t, "alice", "pw-wrong-456", "alpine")
	tm.pullWith(t, tok, "alpine", img)
	for _, p := range []string{"/v2/alpine/manifests/latest", "/metrics", "/v2/auth"} {
		r := tm.get(t, p, "Authorization", "Bearer "+tok+"x")
		bodies = append(bodies, string(r.body)+r.header.Get("WWW-Authenticate"))
	}
	secrets := []string{"pw-alice-123", "pw-wrong-456", tok}
	for _, q := range hub.Requests() {
		if _, v, ok := strings.Cut(q.Authorization, " "); ok {
			secrets = append(secrets, v)
		}
	}
	all := tm.logs.String() + strings.Join(bodies, "\n") + tm.get(t, "/metrics").String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("secret %q found in logs, error bodies or metrics", s)
		}
	}
}

func (r reply) String() string { return string(r.body) }

// Listening beyond loopback logs a warning when anyone who reaches it can
// pull: with SelfAuth off, and with SelfAuth on but no allow-list
// (anonymous tokens). With an allow-list, or on loopback, it does not.
func TestOpenListenerWarning(t *testing.T) {
	hub := newHub(t)
	for _, tc := range []struct {
		listen   string
		selfAuth bool
		allowed  []string
		warn     string // "" for none
	}{
		{"127.0.0.1:0", false, nil, ""},
		{"127.0.0.1:0", true, nil, ""},
		{"0.0.0.0:0", false, nil, "with self_auth off"},
		{"0.0.0.0:0", true, nil, "without logging in"},
		{"0.0.0.0:0", true, []string{"alice"}, ""},
	} {
		tm := startMirrorCfg(t, hub, func(c *Config) {
			c.Listen = tc.listen
			c.Access = Access{SelfAuth: tc.selfAuth, AllowedUsers: tc.allowed}
		})
		logs := tm.logs.String()
		warned := strings.Contains(logs, "anyone who can reach")
		if warned != (tc.warn != "") || !strings.Contains(logs, tc.warn) {
			t.Errorf("listen %s, self_auth %v, allowed %v: warning %v, want %q in:\n%s", tc.listen, tc.selfAuth, tc.allowed, warned, tc.warn, logs)
		}
	}
}
