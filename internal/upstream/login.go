package upstream

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// CheckLogin checks user and password against a registry the way `docker
// login` does: GET /v2/, then the token service named in the challenge with
// Basic credentials, the account and no scope. It returns nil when the
// registry accepts them and an error wrapping oci.ErrDenied when it does
// not. rt may be nil.
func CheckLogin(ctx context.Context, registry, endpoint, user, password string, rt http.RoundTripper) error {
	c, err := New(registry, endpoint, Options{HTTP: NewHTTPClient(rt)})
	if err != nil {
		return err
	}
	ch, err := c.challenge(ctx, account{user: user, password: password})
	if err != nil || ch == nil {
		return err
	}
	if ch.Scheme != "bearer" {
		return fmt.Errorf("%s answered with an unsupported %q challenge", c.Describe(), ch.Scheme)
	}
	_, _, err = c.tokens.fetch(ctx, *ch, nil, account{user: user, password: password}, true)
	if err != nil {
		return fmt.Errorf("login to %s as %s: %w", registry, user, err)
	}
	return nil
}

// NeedsToken reports whether the registry wants a bearer token: it asks
// GET /v2/ the first time, and remembers the challenge for Login and for
// every request after.
func (c *Client) NeedsToken(ctx context.Context) (bool, error) {
	ch, err := c.challenge(ctx, account{})
	return ch != nil, err
}

// Login gets a user's own upstream token for scopes ("repository:NAME:pull")
// from the registry's token service, which checks the password: with
// withAccount false the token is anonymous. The token renews itself with
// the same credentials once upstream refuses it. It returns the token and
// how long it lasts, nil and 0 when the registry wants no token
// (NeedsToken), and an error wrapping oci.ErrDenied when the token service
// refuses the password.
func (c *Client) Login(ctx context.Context, scopes []string, user, password string, withAccount bool) (*UserToken, time.Duration, error) {
	ch, err := c.challenge(ctx, account{})
	if err != nil || ch == nil {
		return nil, 0, err
	}
	a := account{user: user, password: password}
	tok, ttl, err := c.tokens.fetch(ctx, *ch, scopes, a, withAccount)
	if err != nil {
		return nil, 0, err
	}
	return &UserToken{value: tok, renew: func(ctx context.Context) (string, error) {
		tok, _, err := c.tokens.fetch(ctx, *ch, scopes, a, withAccount)
		return tok, err
	}}, ttl, nil
}

// challenge sends GET /v2/ and returns the registry's challenge, or nil
// when it needs none. A Basic challenge is answered with a at once.
func (c *Client) challenge(ctx context.Context, a account) (*Challenge, error) {
	if ch := c.tokens.known(); ch != nil {
		return ch, nil
	}
	for _, basic := range []bool{false, true} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/v2/", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", c.userAgent)
		if basic {
			req.SetBasicAuth(a.user, a.password)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, unreachable(c.registry, req, err)
		}
		drain(resp)
		switch {
		case resp.StatusCode == http.StatusOK:
			return nil, nil
		case resp.StatusCode != http.StatusUnauthorized:
			return nil, fmt.Errorf("%w: %s answered %d to GET /v2/", oci.ErrUnreachable, c.Describe(), resp.StatusCode)
		case basic:
			return nil, fmt.Errorf("%w: %s refused the username or password", oci.ErrDenied, c.Describe())
		}
		ch, ok := ParseChallenge(resp.Header.Get("WWW-Authenticate"))
		if !ok {
			return nil, fmt.Errorf("%w: %s answered 401 without a challenge", oci.ErrDenied, c.Describe())
		}
		if ch.Scheme == "bearer" {
			c.tokens.remember(ch)
			return &ch, nil
		}
	}
	return nil, nil
}
