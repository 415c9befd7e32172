package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// errDigestMismatch means a blob's bytes do not hash to its digest.
var errDigestMismatch = errors.New("digest mismatch")

// newHTTPClient returns a client with its own connection pool that never
// follows redirects: callers decide what a redirect means.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// hubClient pulls blobs from a Docker-Hub-like registry the way a real
// client does: GET /v2/, a 401 with a Bearer challenge, an anonymous token,
// the blob GET, and the 307 to the CDN followed by hand without the
// Authorization header.
type hubClient struct {
	registry string // http://HOST:PORT
	http     *http.Client
}

func newHubClient(registryURL string, conns int) *hubClient {
	return &hubClient{registry: strings.TrimSuffix(registryURL, "/"), http: newHTTPClient(conns)}
}

// token returns a pull token for repo from the realm the registry names.
func (c *hubClient) token(ctx context.Context, repo string) (string, error) {
	resp, err := c.get(ctx, c.registry+"/v2/", "")
	if err != nil {
		return "", err
	}
	drain(resp)
	if resp.StatusCode != http.StatusUnauthorized {
		return "", fmt.Errorf("GET /v2/: %s, want 401", resp.Status)
	}
	scheme, params, err := parseChallenge(resp.Header.Get("WWW-Authenticate"))
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(scheme, "Bearer") || params["realm"] == "" {
		return "", fmt.Errorf("unexpected challenge %q", resp.Header.Get("WWW-Authenticate"))
	}
	u, err := url.Parse(params["realm"])
	if err != nil {
		return "", fmt.Errorf("realm: %w", err)
	}
	q := u.Query()
	q.Set("service", params["service"])
	q.Set("scope", "repository:"+repo+":pull")
	u.RawQuery = q.Encode()
	resp, err = c.get(ctx, u.String(), "")
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token: %s", resp.Status)
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return "", fmt.Errorf("token reply: %w", err)
	}
	if tr.Token == "" {
		tr.Token = tr.AccessToken
	}
	if tr.Token == "" {
		return "", errors.New("token reply without a token")
	}
	return tr.Token, nil
}

// pullBlob downloads and verifies the blob with digest and size from repo.
func (c *hubClient) pullBlob(ctx context.Context, repo, digest string, size int64) error {
	tok, err := c.token(ctx, repo)
	if err != nil {
		return err
	}
	return c.pullBlobWithToken(ctx, repo, tok, digest, size)
}

// pullBlobWithToken is pullBlob with a pull token the caller already has.
func (c *hubClient) pullBlobWithToken(ctx context.Context, repo, tok, digest string, size int64) error {
	resp, err := c.get(ctx, c.registry+"/v2/"+repo+"/blobs/"+digest, "Bearer "+tok)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		return fmt.Errorf("GET blob %s: %s, want 307", digest, resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("GET blob %s: %w", digest, err)
	}
	resp, err = c.get(ctx, loc.String(), "") // no Authorization to the CDN
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CDN GET blob %s: %s", digest, resp.Status)
	}
	return verifyBody(resp.Body, digest, size)
}

func (c *hubClient) get(ctx context.Context, u, authorization string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return c.http.Do(req)
}

// fetchMirrorBlob downloads and verifies a blob from the mirror at addr. A
// redirect is an error: the mirror must stream blobs itself.
func fetchMirrorBlob(ctx context.Context, client *http.Client, addr, repo, digest string, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("mirror GET blob %s: %s (Location %q) %s", digest, resp.Status, resp.Header.Get("Location"), body)
	}
	return verifyBody(resp.Body, digest, size)
}

// verifyBody reads r to the end and checks it has size bytes hashing to
// digest (sha256).
func verifyBody(r io.Reader, digest string, size int64) error {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(h, r, buf)
	if err != nil {
		return fmt.Errorf("read blob %s after %d bytes: %w", digest, n, err)
	}
	if n != size {
		return fmt.Errorf("blob %s: got %d bytes, want %d: %w", digest, n, size, errDigestMismatch)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("blob %s: bytes hash to %s: %w", digest, got, errDigestMismatch)
	}
	return nil
}

// drain reads a little of what is left of a body, so the connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// parseChallenge parses a WWW-Authenticate value such as
// `Bearer realm="https://auth",service="registry",scope="a:b:pull,push"`.
func parseChallenge(h string) (string, map[string]string, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if scheme == "" {
		return "", nil, errors.New("empty challenge")
	}
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			return "", nil, fmt.Errorf("challenge %q: parameter without '='", h)
		}
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			if i == len(after) {
				return "", nil, fmt.Errorf("challenge %q: unterminated quote", h)
			}
			val, after = b.String(), after[i+1:]
		} else {
			val, after, _ = strings.Cut(after, ",")
			after = "," + after
		}
		params[key] = strings.TrimSpace(val)
		after = strings.TrimSpace(after)
		if after != "" && after[0] != ',' {
			return "", nil, fmt.Errorf("challenge %q: junk after %s", h, key)
		}
		rest = strings.TrimSpace(strings.TrimPrefix(after, ","))
	}
	return scheme, params, nil
}
