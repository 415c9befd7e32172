package upstream

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// Redirects are where an upstream can make the mirror read what it should
// not: a hostile or compromised registry that answers 307 to
// http://127.0.0.1:…, to a cloud metadata service (169.254.169.254) or to
// a host on the LAN would have the mirror fetch that page for it. So a
// redirect to a loopback, link-local or private address is refused unless
// the upstream itself is on such an address (a registry on the LAN, tests),
// or goes back to the upstream's own host.
//
// Names are resolved before the redirect is followed, and refused when any
// of their addresses is internal. The default transport checks again at
// dial time, the address it really connects to, so a name that resolves to
// something else a moment later (DNS rebinding) cannot get through either.

// internalNets are address ranges the mirror will not be redirected into,
// besides loopback, private and link-local ones.
var internalNets = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT; some clouds' metadata
	netip.MustParsePrefix("fec0::/10"),     // deprecated site-local
}

// internalAddr reports whether a is loopback, private, link-local,
// unspecified or otherwise not on the internet.
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range internalNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// internalHost says whether host (a name or an IP literal) is or resolves
// to an internal address; for a name, any of its addresses counts.
func (c *Client) internalHost(ctx context.Context, host string) (bool, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return internalAddr(a), nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true, nil
	}
	addrs, err := c.lookup(ctx, host)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && internalAddr(ip) {
			return true, nil
		}
	}
	return false, nil
}

// checkRedirect decides whether the mirror follows upstream's redirect to
// loc. guard is true when the request to loc must also be checked at dial
// time. The error names loc without its query (signed URLs carry
// credentials there).
func (c *Client) checkRedirect(ctx context.Context, loc *url.URL) (guard bool, err error) {
	where := loc.Scheme + "://" + loc.Host + loc.Path
	if loc.Scheme != "http" && loc.Scheme != "https" {
		return false, fmt.Errorf("%w: %s redirected to %s, which is not http(s)", oci.ErrUnreachable, c.registry, where)
	}
	if strings.EqualFold(loc.Hostname(), c.base.Hostname()) {
		return false, nil // back to the registry itself
	}
	internal, err := c.internalHost(ctx, loc.Hostname())
	if err != nil {
		if p, perr := http.ProxyFromEnvironment(&http.Request{URL: loc}); perr == nil && p != nil {
			// Behind a proxy the mirror may not resolve outside names
			// itself; the proxy connects, and IP literals were checked.
			return true, nil
		}
		return false, fmt.Errorf("%w: %s redirected to %s: %w", oci.ErrUnreachable, c.registry, where, err)
	}
	if !internal {
		return true, nil
	}
	if self, _ := c.internalHost(ctx, c.base.Hostname()); self {
		return false, nil // an upstream on the LAN may send the mirror within the LAN
	}
	return false, fmt.Errorf("%w: %w: %s redirected to %s", oci.ErrUnreachable, ErrRedirectRefused, c.registry, where)
}

// dialGuardKey carries, in a request's context, the URL of a redirect
// target whose connections must not reach an internal address.
type dialGuardKey struct{}

func guardDials(ctx context.Context, target *url.URL) context.Context {
	return context.WithValue(ctx, dialGuardKey{}, target)
}

// guardedDial wraps d for the default transport: a dial for a request
// marked with guardDials refuses internal addresses, checked on the very
// address connected to. A dial to the HTTP proxy the environment names is
// left alone: the proxy, not the mirror, connects to the target.
func guardedDial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	checked := *d
	checked.Control = refuseInternal
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		target, ok := ctx.Value(dialGuardKey{}).(*url.URL)
		if !ok || isProxyAddr(target, addr) {
			return d.DialContext(ctx, network, addr)
		}
		return checked.DialContext(ctx, network, addr)
	}
}

// refuseInternal is a net.Dialer Control: it runs before each connect.
func refuseInternal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check the address %q", ErrRedirectRefused, address)
	}
	if internalAddr(ap.Addr()) {
		return fmt.Errorf("%w: the redirect target resolved to %s", ErrRedirectRefused, ap.Addr())
	}
	return nil
}

// isProxyAddr reports whether addr is the proxy the environment names for
// requests to target.
func isProxyAddr(target *url.URL, addr string) bool {
	p, err := http.ProxyFromEnvironment(&http.Request{URL: target})
	if err != nil || p == nil {
		return false
	}
	port := p.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[p.Scheme]
	}
	return strings.EqualFold(net.JoinHostPort(p.Hostname(), port), addr)
}
