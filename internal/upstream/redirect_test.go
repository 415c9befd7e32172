package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"
)

// secretPage stands for a page inside the network (an admin page, a cloud
// metadata service) and counts who read it.
type secretPage struct {
	*httptest.Server
	hits atomic.Int64
}

func newSecretPage(t *testing.T) *secretPage {
	t.Helper()
	p := &secretPage{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		_, _ = w.Write([]byte(`{"secret":"internal page"}`))
	}))
	t.Cleanup(p.Close)
	return p
}

// The default transport checks a redirect target again at dial time, on
// the address it connects to: a name that passed the check and then
// resolves to an internal address (DNS rebinding) is not connected to.
func TestRedirectDialRefusesInternalAddresses(t *testing.T) {
	secret := newSecretPage(t)
	client := NewHTTPClient(nil)
	target, _ := url.Parse(secret.URL + "/secret")
	get := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
		resp, err := client.Do(req)
		if err == nil {
			drain(resp)
		}
		return err
	}
	if err := get(guardDials(context.Background(), target)); !errors.Is(err, ErrRedirectRefused) {
		t.Errorf("a guarded dial to %s: %v, want ErrRedirectRefused", target.Host, err)
	}
	if n := secret.hits.Load(); n != 0 {
		t.Errorf("the internal page was read %d times", n)
	}
	if err := get(context.Background()); err != nil || secret.hits.Load() != 1 {
		t.Errorf("an unguarded request (the registry's own host): %v, %d hits", err, secret.hits.Load())
	}
}

func TestInternalAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.1": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.0.0.1": true, "172.16.5.4": true, "192.168.0.1": true, "fd00::1": true,
		"169.254.169.254": true, "fe80::1": true, "0.0.0.0": true, "::": true,
		"100.100.100.200": true, "fec0::1": true,
		"203.0.113.7": false, "8.8.8.8": false, "2606:4700::6810:84e5": false, "172.32.0.1": false,
	} {
		if got := internalAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("internalAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
