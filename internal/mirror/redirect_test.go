package mirror

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// secretPage stands for a page inside the network (an admin page, a cloud
// metadata service) and counts who read it.
type secretPage struct {
	*httptest.Server
	hits atomic.Int64
}

var secretBody = []byte(`{"secret":"internal page"}`)

func newSecretPage(t *testing.T, body []byte) *secretPage {
	t.Helper()
	p := &secretPage{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Write(body)
	}))
	t.Cleanup(p.Close)
	return p
}

// redirector is an upstream registry that answers every manifest request
// of repository library/<case> with a 307 to targets[<case>].
func redirector(t *testing.T, targets map[string]string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/library/"), "/manifests/")
		if to, known := targets[name]; ok && known {
			http.Redirect(w, r, to, http.StatusTemporaryRedirect)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// A hostile upstream cannot make the mirror read internal pages: redirects
// to loopback, link-local and private addresses, and to names that resolve
// to them, are refused before anything is dialed. An upstream that is
// itself on such an address may redirect within the network.
func TestRedirectsToInternalAddressesAreRefused(t *testing.T) {
	hub := newHub(t)
	secret := newSecretPage(t, secretBody)
	secretPort := secret.Listener.Addr().(*net.TCPAddr).Port
	publicBody := []byte(`{"public":"page"}`)
	public := newSecretPage(t, publicBody) // a public CDN, as far as names go
	targets := map[string]string{
		"loopback":  fmt.Sprintf("http://127.0.0.1:%d/secret?signature=sekret-query", secretPort),
		"localhost": fmt.Sprintf("http://localhost:%d/secret", secretPort),
		"mapped":    fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/secret", secretPort),
		"ipv6":      fmt.Sprintf("http://[::1]:%d/secret", secretPort),
		"metadata":  "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"private":   "http://10.20.30.40:5000/admin",
		"cgnat":     "http://100.100.100.200/latest/meta-data/",
		"name":      "http://metadata.example.test/latest/meta-data/",
		"mixed":     "http://mixed.example.test/admin",
		"scheme":    "file:///etc/passwd",
		"public":    "http://cdn.example.test/blob?signature=fine",
	}
	hostile := redirector(t, targets)
	names := map[string][]string{
		"registry.example.test": {"203.0.113.7"},
		"cdn.example.test":      {"203.0.113.9"},
		"metadata.example.test": {"169.254.169.254"},
		"mixed.example.test":    {"203.0.113.10", "192.168.1.20"},
	}
	// The test's transport maps the two public names to local servers and
	// dials the secret page as it is, so that a mirror that followed the
	// redirect would be seen reading it; any other dial is recorded and
	// refused, so that no packet leaves this machine.
	var mu sync.Mutex
	var strayDials []string
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		switch addr {
		case "registry.example.test:80":
			addr = hostile.Listener.Addr().String()
		case "cdn.example.test:80":
			addr = public.Listener.Addr().String()
		case secret.Listener.Addr().String(), hostile.Listener.Addr().String():
		default:
			mu.Lock()
			strayDials = append(strayDials, addr)
			mu.Unlock()
			return nil, fmt.Errorf("test: no dialing %s", addr)
		}
		return dialer.DialContext(ctx, network, addr)
	}}
	tm := startPrepared(t, hub, func(c *Config) {
		c.Transport = transport
		c.Upstreams = map[string]string{dockerHub: "http://registry.example.test", "lan.example": hostile.URL}
	}, nil, withLookup(func(_ context.Context, host string) ([]net.IPAddr, error) {
		var out []net.IPAddr
		for _, a := range names[host] {
			out = append(out, net.IPAddr{IP: net.ParseIP(a)})
		}
		if out == nil {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return out, nil
	}))
	// Each case asks for a digest of its own, so that nothing comes from
	// the cache; the digests of the pages' bodies where they are read.
	manifest := func(name string, body []byte) string {
		return fmt.Sprintf("/v2/library/%s/manifests/sha256:%x", name, sha256.Sum256(body))
	}

	for name := range targets {
		t.Run(name, func(t *testing.T) {
			if name == "public" {
				r := tm.get(t, manifest(name, publicBody))
				if r.status != http.StatusOK || public.hits.Load() != 1 {
					t.Errorf("a redirect to a public host: %d %s, %d hits", r.status, r.body, public.hits.Load())
				}
				return
			}
			r := tm.get(t, manifest(name, []byte(name)))
			if r.status != http.StatusServiceUnavailable || errorCode(t, r) != codeUnavailable {
				t.Errorf("%d %s, want 503 UNAVAILABLE", r.status, r.body)
			}
			if name != "scheme" && !strings.Contains(string(r.body), "internal address refused") {
				t.Errorf("the error does not say why: %s", r.body)
			}
			if strings.Contains(string(r.body), "sekret-query") {
				t.Errorf("the error shows the redirect's query: %s", r.body)
			}
		})
	}
	if n := secret.hits.Load(); n != 0 {
		t.Errorf("the internal page was read %d times", n)
	}
	if len(strayDials) != 0 {
		t.Errorf("dialed %v: a refusal must come before dialing", strayDials)
	}

	// An upstream that is itself on 127.0.0.1 may send the mirror there.
	if r := tm.get(t, "/v2/lan.example"+strings.TrimPrefix(manifest("loopback", secretBody), "/v2")); r.status != http.StatusOK || secret.hits.Load() != 1 {
		t.Errorf("a LAN upstream redirecting within the LAN: %d %s, %d hits", r.status, r.body, secret.hits.Load())
	}
}
