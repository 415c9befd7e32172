// Package upstream is the mirror's client of upstream registries. A
// Client talks to one registry endpoint on behalf of every client of the
// mirror: it answers the registry's challenges, keeps its tokens, follows
// its redirects (never sending Authorization to another host, nor into an
// internal network) and watches whether it answers. A Session is a Client
// bound, once per request, to the upstream token that request acts with,
// and offers the registry API as typed calls: HeadManifest, GetManifest,
// HeadBlob, OpenBlob (or Blob, for a download in ranges) and Tags.
//
// Status codes, Content-Range and redirects stop here: callers get
// manifests, blob bodies with the byte they start at, and errors that wrap
// package oci's sentinels. The package knows nothing of the cache.
package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/version"
)

// maxRedirects bounds how many redirects one upstream request follows.
const maxRedirects = 5

// UserAgent identifies the mirror to upstream registries: hubmirror and
// the version of this binary (package version).
func UserAgent() string { return "hubmirror/" + version.String() }

// Credentials looks up the stored account for a registry. ok is false when
// there is none; err when the store cannot be read (the client then pulls
// anonymously and logs the error).
type Credentials func(registry string) (user, password string, ok bool, err error)

// Problems is where clients note, for people, what is wrong with their
// registry right now, and that it works again. The mirror's status
// implements it; the problems are English, translated where shown.
type Problems interface {
	// SetProblem notes problem for registry, or clears it with "". With
	// replace false a problem already noted stays (it may say more).
	SetProblem(registry, problem string, replace bool)
	// HasProblem reports whether a problem is noted for registry.
	HasProblem(registry string) bool
}

// Options are what New needs besides the registry and its endpoint. The
// zero value works: its own counters, anonymous, no problems told.
type Options struct {
	// HTTP carries the requests; NewHTTPClient(nil) when nil. The clients
	// of one mirror share one, and so its connections.
	HTTP *http.Client
	// Credentials is the mirror's own account at the registry's token
	// service; nil pulls anonymously.
	Credentials Credentials
	// Stats counts the requests and keeps the rate limits the registry
	// reports; the clients of one mirror share one. New makes one when nil.
	Stats *Stats
	// Problems is told what is wrong with the registry; nil tells nobody.
	Problems Problems
	// Log receives warnings (an unreadable keyring, refused credentials);
	// nothing is logged when nil.
	Log *slog.Logger
	// Lookup resolves the names of redirect targets (redirect.go);
	// net.DefaultResolver's when nil.
	Lookup func(ctx context.Context, host string) ([]net.IPAddr, error)
	// Probe is how the health probe paces itself; a zero field is the
	// default: a 3 s timeout, first after 1 s, at most every 30 s.
	Probe Probe
}

// Client talks to one registry endpoint on behalf of every client of the
// mirror. Its methods are safe for concurrent use.
type Client struct {
	registry string   // the registry's name, e.g. "docker.io"
	base     *url.URL // its endpoint, e.g. https://registry-1.docker.io
	// userAgent is sent with every request, fixed when the client is made.
	userAgent string
	http      *http.Client
	tokens    *tokenSource
	stats     *Stats
	problems  Problems
	// lookup resolves redirect targets' names.
	lookup func(ctx context.Context, host string) ([]net.IPAddr, error)
	// health is what the registry's recent answers say about it.
	health *health
}

// NewHTTPClient returns the client for upstream traffic over rt (a tuned
// http.Transport when nil). Redirects are left to the Client, which
// follows them itself; compression is off so blob bytes arrive exactly as
// stored; and there is no overall timeout, because layers can be large: a
// stalled body is caught by the downloader's watchdog instead. The default
// transport's dials for a redirect target refuse internal addresses (see
// redirect.go).
func NewHTTPClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = newTransport(nil)
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewTransport returns the tuned transport NewHTTPClient(nil) uses,
// trusting the system's roots plus the certificates in caPEM: the CA of a
// team mirror chained as an upstream (hubmirror setup ca prints it). An
// empty caPEM trusts the system's roots alone; a caPEM that holds no
// certificate is an error.
func NewTransport(caPEM []byte) (*http.Transport, error) {
	if len(caPEM) == 0 {
		return newTransport(nil), nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool() // no system roots here (some Windows builds): the CA alone
	}
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New(i18n.Key("the upstream CA file holds no PEM certificate"))
	}
	return newTransport(roots), nil
}

// newTransport is the tuned transport for upstream traffic; roots, when
// not nil, replace the system's roots.
func newTransport(roots *x509.CertPool) *http.Transport {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           guardedDial(&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
	}
	if roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return t
}

// New returns the client of registry (its name, "docker.io") at endpoint
// (an http or https URL).
func New(registry, endpoint string, o Options) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %s: %q is not an http(s) URL", registry, endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if o.HTTP == nil {
		o.HTTP = NewHTTPClient(nil)
	}
	if o.Stats == nil {
		o.Stats = new(Stats)
	}
	if o.Problems == nil {
		o.Problems = noProblems{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Lookup == nil {
		o.Lookup = net.DefaultResolver.LookupIPAddr
	}
	ua := UserAgent()
	return &Client{
		registry:  registry,
		base:      u,
		userAgent: ua,
		http:      o.HTTP,
		tokens:    newTokenSource(registry, o.HTTP, ua, o.Stats, o.Credentials, o.Log),
		stats:     o.Stats,
		problems:  o.Problems,
		lookup:    o.Lookup,
		health:    newHealth(o.Probe),
	}, nil
}

// noProblems is the Problems of a client nobody watches.
type noProblems struct{}

func (noProblems) SetProblem(string, string, bool) {}
func (noProblems) HasProblem(string) bool          { return false }

// Registry returns the name of the client's registry.
func (c *Client) Registry() string { return c.registry }

// Describe names the registry in messages meant for people:
// "docker.io (https://registry-1.docker.io)".
func (c *Client) Describe() string {
	return c.registry + " (" + c.base.Scheme + "://" + c.base.Host + ")"
}

// upstreamProblem notes why the registry's last request failed, or clears
// it with "" once the registry answers again.
func (c *Client) upstreamProblem(registry, problem string) {
	c.problems.SetProblem(registry, problem, true)
}

// upstreamFailure notes a problem for registry unless one is noted: a
// more telling one (429, 5xx) may already be there.
func (c *Client) upstreamFailure(registry, problem string) {
	c.problems.SetProblem(registry, problem, false)
}

// request describes one request to the registry API.
type request struct {
	kind   kind
	method string
	path   string // "/v2/library/alpine/manifests/latest"
	query  url.Values
	repo   string // for the token scope
	accept string
	from   int64 // when > 0, ask for bytes from this offset on
	to     int64 // when > 0, ask for bytes before this offset only (with from)
	// token, when set, is a client's own upstream token (self_auth): it
	// is sent instead of the mirror's, and renewed once on 401.
	token *UserToken
}

// do sends the request with a token for the repository, refreshes the token
// and retries once on 401, and follows redirects without Authorization to
// other hosts. It returns the last answer and the request that got it (the
// last redirect's). The caller closes the body of the returned response.
func (c *Client) do(ctx context.Context, r request) (resp *http.Response, last *http.Request, err error) {
	defer func() { c.noteFailure(ctx, err) }()
	scope := "repository:" + r.repo + ":pull"
	stale := ""
	for attempt := 0; ; attempt++ {
		req, err := c.newRequest(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		if r.token != nil {
			req.Header.Set("Authorization", "Bearer "+r.token.current())
		} else if err := c.tokens.authorize(ctx, req, scope, stale); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", r.kind, r.repo, err)
		}
		c.stats.count(r.kind)
		resp, err := c.http.Do(req)
		if err != nil {
			err = unreachable(c.registry, req, err)
			if !errors.Is(err, context.Canceled) {
				c.upstreamProblem(c.registry, c.Describe()+" cannot be reached; cached images still pull. Check the network or proxy settings.")
			}
			return nil, nil, err
		}
		c.noteRateLimit(resp)
		c.noteHealth(resp)
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && r.token != nil {
			// The user's token expired (a long pull): renew it and retry.
			drain(resp)
			if err := r.token.refresh(ctx, strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")); err != nil {
				return nil, nil, fmt.Errorf("%s %s: renew the user's token: %w", r.kind, r.repo, err)
			}
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && r.token == nil {
			ch, ok := ParseChallenge(resp.Header.Get("WWW-Authenticate"))
			drain(resp)
			if !ok {
				return nil, nil, fmt.Errorf("%w: %s answered 401 without a challenge", oci.ErrDenied, c.registry)
			}
			c.tokens.remember(ch)
			if s := ch.Params["scope"]; s != "" {
				scope = s
			}
			stale = strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
			continue
		}
		return c.follow(ctx, req, resp)
	}
}

// newRequest builds r against the registry's endpoint, without
// Authorization.
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	target := *c.base
	target.Path = c.base.Path + r.path
	target.RawQuery = r.query.Encode()
	req, err := http.NewRequestWithContext(ctx, r.method, target.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	setRange(req.Header, r.from, r.to)
	return req, nil
}

// setRange asks for bytes [from, to) of a blob: "Range: bytes=from-" when
// only from is > 0, "bytes=from-(to-1)" when to is > 0; nothing when
// neither is.
func setRange(h http.Header, from, to int64) {
	if from <= 0 && to <= 0 {
		return
	}
	rng := "bytes=" + strconv.FormatInt(from, 10) + "-"
	if to > 0 {
		rng += strconv.FormatInt(to-1, 10)
	}
	h.Set("Range", rng)
}

// follow handles redirects (a blob GET on Docker Hub answers 307 to a CDN).
// Authorization goes only to the registry's own scheme and host:port, and
// no redirect leads into an internal network (checkRedirect). It returns
// the last answer and the request that got it.
func (c *Client) follow(ctx context.Context, req *http.Request, resp *http.Response) (*http.Response, *http.Request, error) {
	for i := 0; ; i++ {
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, req, nil
		}
		loc, err := resp.Location()
		drain(resp)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s sent a redirect without a usable Location", oci.ErrUnreachable, c.registry)
		}
		if i >= maxRedirects {
			return nil, nil, fmt.Errorf("%w: %s redirected more than %d times", oci.ErrUnreachable, c.registry, maxRedirects)
		}
		guard, err := c.checkRedirect(ctx, loc)
		if err != nil {
			return nil, nil, err
		}
		nextCtx := ctx
		if guard {
			nextCtx = guardDials(ctx, loc)
		}
		next, err := http.NewRequestWithContext(nextCtx, req.Method, loc.String(), nil)
		if err != nil {
			return nil, nil, err
		}
		for _, h := range []string{"User-Agent", "Accept", "Range"} {
			if v := req.Header.Get(h); v != "" {
				next.Header.Set(h, v)
			}
		}
		if a := req.Header.Get("Authorization"); a != "" && sameOrigin(req.URL, loc) {
			next.Header.Set("Authorization", a)
		}
		req = next
		if resp, err = c.http.Do(req); err != nil {
			return nil, nil, unreachable(c.registry, req, err)
		}
	}
}

// noteHealth records whether the registry works, for the status.
func (c *Client) noteHealth(resp *http.Response) {
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		c.upstreamProblem(c.registry, c.Describe()+" is rate limiting this mirror (429); cached images still pull. Log in with a Docker Hub account for a higher limit.")
	case s >= 500:
		c.upstreamProblem(c.registry, fmt.Sprintf("%s answers %d; cached images still pull.", c.Describe(), s))
	default:
		c.upstreamProblem(c.registry, "")
	}
}

// noteRateLimit records Docker Hub's "ratelimit-remaining: 76;w=21600".
func (c *Client) noteRateLimit(resp *http.Response) {
	v := resp.Header.Get("Ratelimit-Remaining")
	if v == "" {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(strings.Split(v, ";")[0]), 10, 64)
	if err == nil {
		c.stats.setRateLimit(c.registry, n)
	}
}

// unreachable wraps a transport error as ErrUnreachable. The URL is cut to
// scheme, host and path: signed CDN URLs carry credentials in their query.
func unreachable(registry string, req *http.Request, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %s: %s %s://%s%s: %w", oci.ErrUnreachable, registry, req.Method, req.URL.Scheme, req.URL.Host, req.URL.Path, err)
}

// sameOrigin reports whether b has a's scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host)
}

// drain discards a little of the body so the connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}
