package mirror

import (
	"context"
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
)

// Version is the mirror's version, set by main before New.
var Version = "0.1.0"

// userAgent identifies the mirror to upstream registries. It reads Version
// when an upstream is made, not at package init: main sets Version after
// init, and upstream should see the version that runs.
func userAgent() string { return "hubmirror/" + Version }

// dockerHub is the registry name of Docker Hub.
const dockerHub = "docker.io"

// maxRedirects bounds how many redirects one upstream request follows.
const maxRedirects = 5

// upstream talks to one registry endpoint on behalf of every client: it
// answers challenges, keeps tokens, follows redirects itself and never sends
// Authorization to a host other than the registry's.
type upstream struct {
	registry string   // the registry's name, e.g. "docker.io"
	base     *url.URL // its endpoint, e.g. https://registry-1.docker.io
	// userAgent is sent with every request, fixed when the upstream is made.
	userAgent string
	client    *http.Client
	tokens    *tokenSource
	stats     *stats
	// lookup resolves redirect targets' names (net.DefaultResolver's).
	lookup func(ctx context.Context, host string) ([]net.IPAddr, error)
	// health says whether cached tags are served without asking first.
	health *health
	// revalidations coalesces concurrent HEADs of one tag.
	revalidations flightGroup
	// manifestFetches coalesces concurrent GETs of one manifest by digest.
	manifestFetches flights[revalKey, fetchedManifest]
}

// newHTTPClient returns the client for upstream traffic. Redirects are
// handled by upstream.do, compression is off so blob bytes arrive exactly as
// stored, and there is no overall timeout because layers can be large: a
// stalled body is caught by the downloader's watchdog instead. Dials for a
// redirect target refuse internal addresses (see redirect.go).
func newHTTPClient(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = &http.Transport{
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
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newUpstream(registry, endpoint string, client *http.Client, st *stats, creds Credentials, log *slog.Logger) (*upstream, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %s: %q is not an http(s) URL", registry, endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	ua := userAgent()
	return &upstream{
		registry:  registry,
		base:      u,
		userAgent: ua,
		client:    client,
		tokens:    newTokenSource(registry, client, ua, st, creds, log),
		stats:     st,
		lookup:    net.DefaultResolver.LookupIPAddr,
		health:    newHealth(),
	}, nil
}

// upstreamRequest describes one request to the registry API.
type upstreamRequest struct {
	kind   requestKind
	method string
	path   string // "/v2/library/alpine/manifests/latest"
	query  url.Values
	repo   string // for the token scope
	accept string
	from   int64 // when > 0, ask for bytes from this offset on
	to     int64 // when > 0, ask for bytes before this offset only (with from)
	// token, when set, is a client's own upstream token (SelfAuth): it is
	// sent instead of the mirror's, and renewed once on 401.
	token *userToken
}

// do sends the request with a token for the repository, refreshes the token
// and retries once on 401, and follows redirects without Authorization to
// other hosts. The caller closes the body of the returned response.
func (u *upstream) do(ctx context.Context, r upstreamRequest) (resp *http.Response, err error) {
	defer func() { u.noteFailure(ctx, err) }()
	scope := "repository:" + r.repo + ":pull"
	stale := ""
	for attempt := 0; ; attempt++ {
		req, err := u.newRequest(ctx, r)
		if err != nil {
			return nil, err
		}
		if r.token != nil {
			req.Header.Set("Authorization", "Bearer "+r.token.current())
		} else if err := u.tokens.authorize(ctx, req, scope, stale); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.kind, r.repo, err)
		}
		u.stats.upstreamRequest(r.kind)
		resp, err := u.client.Do(req)
		if err != nil {
			err = unreachable(u.registry, req, err)
			if !errors.Is(err, context.Canceled) {
				u.stats.upstreamProblem(u.registry, u.describe()+" cannot be reached; cached images still pull. Check the network or proxy settings.")
			}
			return nil, err
		}
		u.noteRateLimit(resp)
		u.noteHealth(resp)
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && r.token != nil {
			// The user's token expired (a long pull): renew it and retry.
			drain(resp)
			if err := r.token.refresh(ctx, strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")); err != nil {
				return nil, fmt.Errorf("%s %s: renew the user's token: %w", r.kind, r.repo, err)
			}
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && r.token == nil {
			c, ok := parseChallenge(resp.Header.Get("WWW-Authenticate"))
			drain(resp)
			if !ok {
				return nil, fmt.Errorf("%w: %s answered 401 without a challenge", ErrDenied, u.registry)
			}
			u.tokens.remember(c)
			if s := c.Params["scope"]; s != "" {
				scope = s
			}
			stale = strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
			continue
		}
		return u.follow(ctx, req, resp)
	}
}

func (u *upstream) newRequest(ctx context.Context, r upstreamRequest) (*http.Request, error) {
	target := *u.base
	target.Path = u.base.Path + r.path
	target.RawQuery = r.query.Encode()
	req, err := http.NewRequestWithContext(ctx, r.method, target.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", u.userAgent)
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if r.from > 0 || r.to > 0 {
		rng := "bytes=" + strconv.FormatInt(r.from, 10) + "-"
		if r.to > 0 {
			rng += strconv.FormatInt(r.to-1, 10)
		}
		req.Header.Set("Range", rng)
	}
	return req, nil
}

// follow handles redirects (a blob GET on Docker Hub answers 307 to a CDN).
// Authorization goes only to the registry's own scheme and host:port, and
// no redirect leads into an internal network (checkRedirect).
func (u *upstream) follow(ctx context.Context, req *http.Request, resp *http.Response) (*http.Response, error) {
	for i := 0; ; i++ {
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc, err := resp.Location()
		drain(resp)
		if err != nil {
			return nil, fmt.Errorf("%w: %s sent a redirect without a usable Location", ErrUnreachable, u.registry)
		}
		if i >= maxRedirects {
			return nil, fmt.Errorf("%w: %s redirected more than %d times", ErrUnreachable, u.registry, maxRedirects)
		}
		guard, err := u.checkRedirect(ctx, loc)
		if err != nil {
			return nil, err
		}
		nextCtx := ctx
		if guard {
			nextCtx = guardDials(ctx, loc)
		}
		next, err := http.NewRequestWithContext(nextCtx, req.Method, loc.String(), nil)
		if err != nil {
			return nil, err
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
		if resp, err = u.client.Do(req); err != nil {
			return nil, unreachable(u.registry, req, err)
		}
	}
}

// noteHealth records whether the registry works, for the status.
func (u *upstream) noteHealth(resp *http.Response) {
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		u.stats.upstreamProblem(u.registry, u.describe()+" is rate limiting this mirror (429); cached images still pull. Log in with a Docker Hub account for a higher limit.")
	case s >= 500:
		u.stats.upstreamProblem(u.registry, fmt.Sprintf("%s answers %d; cached images still pull.", u.describe(), s))
	default:
		u.stats.upstreamProblem(u.registry, "")
	}
}

// noteRateLimit records Docker Hub's "ratelimit-remaining: 76;w=21600".
func (u *upstream) noteRateLimit(resp *http.Response) {
	v := resp.Header.Get("Ratelimit-Remaining")
	if v == "" {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(strings.Split(v, ";")[0]), 10, 64)
	if err == nil {
		u.stats.rateLimit(u.registry, n)
	}
}

// describe names the upstream in messages meant for people.
func (u *upstream) describe() string {
	return u.registry + " (" + u.base.Scheme + "://" + u.base.Host + ")"
}

// statusError maps an upstream answer that is not a success to a sentinel.
// A 4xx the mirror has no meaning of its own for (400, 405, 416, …) is
// upstream refusing this request, not upstream failing: it reaches the
// client as the same 4xx and is no reason to serve from the cache. The
// caller still drains the body; at most maxErrorBody of it is read here.
func (u *upstream) statusError(resp *http.Response, what string) error {
	switch s := resp.StatusCode; {
	case s == http.StatusNotFound:
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case s == http.StatusTooManyRequests:
		return &rateLimitError{retryAfter: resp.Header.Get("Retry-After"), what: what}
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return fmt.Errorf("%s: %w (HTTP %d)", what, ErrDenied, s)
	case s >= 500, s < 400,
		// A proxy between the mirror and upstream wants credentials, or
		// upstream gave up waiting: the client can do nothing about either.
		s == http.StatusProxyAuthRequired, s == http.StatusRequestTimeout:
		return fmt.Errorf("%s: %w: %s answered %d", what, ErrUnreachable, u.describe(), s)
	default:
		return upstreamRefusal(resp, what, u.describe())
	}
}

// rateLimitError carries upstream's Retry-After with ErrTooManyRequests.
type rateLimitError struct {
	retryAfter string
	what       string
}

func (e *rateLimitError) Error() string      { return e.what + ": " + ErrTooManyRequests.Error() }
func (e *rateLimitError) Is(err error) bool  { return err == ErrTooManyRequests }
func (e *rateLimitError) RetryAfter() string { return e.retryAfter }

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
	return fmt.Errorf("%w: %s: %s %s://%s%s: %w", ErrUnreachable, registry, req.Method, req.URL.Scheme, req.URL.Host, req.URL.Path, err)
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
