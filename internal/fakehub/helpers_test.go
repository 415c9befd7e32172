package fakehub_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// noRedirect is a client that hands redirects back instead of following
// them, so tests see the registry's 307s and control the CDN request.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// newHub starts a hub closed when the test ends.
func newHub(t *testing.T) *fakehub.Hub {
	t.Helper()
	h := fakehub.New()
	t.Cleanup(h.Close)
	return h
}

// reply is a response read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes a request with header given as name, value pairs and reads the
// whole response.
func send(t *testing.T, c *http.Client, method, target string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, target, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// tokenJSON is the token service's reply.
type tokenJSON struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// requestToken asks the token service for a token with query, as user when
// user is not "".
func requestToken(t *testing.T, h *fakehub.Hub, user, password string, query url.Values) (int, tokenJSON) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.Realm()+"?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var tok tokenJSON
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
			t.Fatalf("decode token: %v", err)
		}
	}
	return resp.StatusCode, tok
}

// pullQuery is a token query for pull on repos.
func pullQuery(repos ...string) url.Values {
	q := url.Values{"service": {fakehub.Service}}
	for _, r := range repos {
		q.Add("scope", "repository:"+r+":pull")
	}
	return q
}

// bearer returns an Authorization header value carrying an anonymous token
// for pull on repos.
func bearer(t *testing.T, h *fakehub.Hub, repos ...string) string {
	t.Helper()
	status, tok := requestToken(t, h, "", "", pullQuery(repos...))
	if status != http.StatusOK || tok.Token == "" {
		t.Fatalf("anonymous token for %v: status %d, token %q", repos, status, tok.Token)
	}
	return "Bearer " + tok.Token
}

// challengeParams parses a Bearer WWW-Authenticate header.
func challengeParams(t *testing.T, header string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		t.Fatalf("challenge %q is not Bearer", header)
	}
	params := map[string]string{}
	for rest != "" {
		key, value, _ := strings.Cut(rest, "=")
		value, after, _ := strings.Cut(strings.TrimPrefix(value, `"`), `"`)
		params[key] = value
		rest = strings.TrimPrefix(after, ",")
	}
	return params
}

// errorCode returns the first code of an OCI error body.
func errorCode(t *testing.T, r reply) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q", r.body)
	}
	return body.Errors[0].Code
}

func manifestURL(h *fakehub.Hub, repo, ref string) string {
	return h.URL() + "/v2/" + repo + "/manifests/" + ref
}

func blobURL(h *fakehub.Hub, repo, digest string) string {
	return h.URL() + "/v2/" + repo + "/blobs/" + digest
}

// cdnURL asks the registry for digest in repo and returns where it
// redirects.
func cdnURL(t *testing.T, h *fakehub.Hub, repo, digest string) string {
	t.Helper()
	r := send(t, noRedirect, http.MethodGet, blobURL(h, repo, digest), "Authorization", bearer(t, h, repo))
	loc := r.header.Get("Location")
	if r.status != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, h.CDN.URL+"/blobs/"+digest+"?") {
		t.Fatalf("blob GET: status %d, Location %q; want 307 to the CDN", r.status, loc)
	}
	return loc
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pattern returns n deterministic bytes that differ at every offset mod 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// await fails the test if ch stays open for long, so a broken hub fails
// fast instead of hanging until the test binary times out.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
