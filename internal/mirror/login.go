package mirror

import (
	"context"
	"fmt"
	"net/http"
)

// CheckLogin checks user and password against a registry the way `docker
// login` does: GET /v2/, then the token service named in the challenge with
// Basic credentials, the account and no scope. It returns nil when the
// registry accepts them and an error wrapping ErrDenied when it does not.
// rt may be nil.
func CheckLogin(ctx context.Context, registry, endpoint, user, password string, rt http.RoundTripper) error {
	up, err := newUpstream(registry, endpoint, newHTTPClient(rt), newStats(), nil, nil)
	if err != nil {
		return err
	}
	c, err := up.challenge(ctx, account{user: user, password: password})
	if err != nil || c == nil {
		return err
	}
	if c.Scheme != "bearer" {
		return fmt.Errorf("%s answered with an unsupported %q challenge", up.describe(), c.Scheme)
	}
	_, _, err = up.tokens.fetch(ctx, *c, nil, account{user: user, password: password}, true)
	if err != nil {
		return fmt.Errorf("login to %s as %s: %w", registry, user, err)
	}
	return nil
}

// challenge sends GET /v2/ and returns the registry's challenge, or nil
// when it needs none. A Basic challenge is answered with a at once.
func (u *upstream) challenge(ctx context.Context, a account) (*challenge, error) {
	if c := u.tokens.known(); c != nil {
		return c, nil
	}
	for _, basic := range []bool{false, true} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base.String()+"/v2/", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", u.userAgent)
		if basic {
			req.SetBasicAuth(a.user, a.password)
		}
		resp, err := u.client.Do(req)
		if err != nil {
			return nil, unreachable(u.registry, req, err)
		}
		drain(resp)
		switch {
		case resp.StatusCode == http.StatusOK:
			return nil, nil
		case resp.StatusCode != http.StatusUnauthorized:
			return nil, fmt.Errorf("%w: %s answered %d to GET /v2/", ErrUnreachable, u.describe(), resp.StatusCode)
		case basic:
			return nil, fmt.Errorf("%w: %s refused the username or password", ErrDenied, u.describe())
		}
		c, ok := parseChallenge(resp.Header.Get("WWW-Authenticate"))
		if !ok {
			return nil, fmt.Errorf("%w: %s answered 401 without a challenge", ErrDenied, u.describe())
		}
		if c.Scheme == "bearer" {
			u.tokens.remember(c)
			return &c, nil
		}
	}
	return nil, nil
}
