package uiremote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// ErrUnreachable is in the chain of every error that comes from losing
// the parent rather than from the parent's answer: the window process
// can tell "the app quit" from "the app said no".
var ErrUnreachable = errors.New("the hubmirror app is not reachable")

// dialTimeout bounds connecting to the parent, which is local: it either
// answers at once or is gone.
const dialTimeout = 5 * time.Second

// baseURL is the URL the calls go to; the host is never resolved, as
// every connection comes from the dial function.
const baseURL = "http://hubmirror"

// Client is a ui.Backend whose calls go to the parent over dial. Its
// methods are safe for concurrent use.
//
// The methods that cannot return an error make do when the parent is
// gone: Settings returns the last settings it saw, Status a failed state
// that says the app is not reachable, CacheUsage and About zero values.
type Client struct {
	hc *http.Client

	mu   sync.Mutex
	last settings.Settings // the settings in force the parent last reported
}

var _ ui.Backend = (*Client)(nil)

// NewClient returns a Client that connects to the parent with dial. The
// connections are HTTP/1.1, with no proxy and no compression; a stream
// holds one while it runs.
func NewClient(dial func(ctx context.Context) (net.Conn, error)) *Client {
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			return dial(ctx)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{hc: &http.Client{Transport: tr}}
}

// unreachable wraps a transport failure so that it says the app is gone.
func unreachable(err error) error {
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// send makes a call and returns the response, whatever its status. A body
// of nil sends none; otherwise it is sent as JSON.
func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode the request for %s: %w", path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, rd)
	if err != nil {
		return nil, fmt.Errorf("make the request for %s: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, unreachable(err)
	}
	return resp, nil
}

// call makes a call that answers a reply and decodes its value into out
// (nil to ignore it). The value is decoded even when the reply carries an
// error, for calls that answer both.
func (c *Client) call(method, path string, in, out any) error {
	resp, err := c.send(context.Background(), method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readReply(resp, path, out)
}

// readReply decodes a reply from resp.
func readReply(resp *http.Response, path string, out any) error {
	var rep reply
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&rep); err != nil {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the hubmirror app answered %s to %s", resp.Status, path)
		}
		return unreachable(fmt.Errorf("read the answer to %s: %w", path, err))
	}
	return rep.decode(resp, path, out)
}

// decode stores the reply's value in out and returns its error.
func (rep reply) decode(resp *http.Response, path string, out any) error {
	if rep.Error != nil {
		if out != nil && len(rep.Value) > 0 {
			_ = json.Unmarshal(rep.Value, out) // the error says more than a bad value would
		}
		return rep.Error.err()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the hubmirror app answered %s to %s", resp.Status, path)
	}
	if out != nil && len(rep.Value) > 0 {
		if err := json.Unmarshal(rep.Value, out); err != nil {
			return fmt.Errorf("read the answer to %s: %w", path, err)
		}
	}
	return nil
}

// remoteError is an error the parent returned: its message verbatim, and
// what errors.As and errors.Is should find in it.
type remoteError struct {
	msg       string
	field     *settings.FieldError
	addrInUse bool
	noKeyring bool
}

func (e *remoteError) Error() string { return e.msg }

// Unwrap exposes the *settings.FieldError and mirror.ErrAddrInUse the
// original error held.
func (e *remoteError) Unwrap() []error {
	var errs []error
	if e.field != nil {
		errs = append(errs, e.field)
	}
	if e.addrInUse {
		errs = append(errs, mirror.ErrAddrInUse)
	}
	if e.noKeyring {
		errs = append(errs, ui.ErrKeyringUnavailable)
	}
	return errs
}

// err rebuilds the error the parent returned. A bare *settings.FieldError
// or mirror.ErrAddrInUse comes back as itself, so that even == and type
// assertions work; anything else as a remoteError.
func (we *wireError) err() error {
	switch {
	case we.Field != nil && !we.AddrInUse && we.Message == we.Field.Error():
		fe := *we.Field
		return &fe
	case we.Field == nil && we.AddrInUse && we.Message == mirror.ErrAddrInUse.Error():
		return mirror.ErrAddrInUse
	}
	e := &remoteError{msg: we.Message, addrInUse: we.AddrInUse, noKeyring: we.NoKeyring}
	if we.Field != nil {
		fe := *we.Field
		e.field = &fe
	}
	return e
}

// remember records s as the settings in force.
func (c *Client) remember(s settings.Settings) {
	c.mu.Lock()
	c.last = s
	c.mu.Unlock()
}

// lastSettings returns the settings in force the parent last reported.
func (c *Client) lastSettings() settings.Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// settings asks the parent for the settings in force.
func (c *Client) settings() (settings.Settings, error) {
	var s settings.Settings
	if err := c.call(http.MethodGet, pathSettings, nil, &s); err != nil {
		return c.lastSettings(), err
	}
	c.remember(s)
	return s, nil
}

// Settings returns the settings in force, or the last ones seen when the
// parent cannot be asked.
func (c *Client) Settings() settings.Settings {
	s, _ := c.settings()
	return s
}

// SaveSettings validates, writes and applies s in the parent.
func (c *Client) SaveSettings(s settings.Settings) error {
	return c.call(http.MethodPost, pathSaveSettings, s, nil)
}

// UpdateSettings runs edit here on a copy of the settings in force and
// sends the parent both: the parent applies to the file as it is then
// only the top-level settings edit changed, so what edit leaves alone
// keeps what is on disk, as the Backend contract says.
func (c *Client) UpdateSettings(edit func(*settings.Settings)) (settings.Settings, error) {
	before, err := c.settings()
	if err != nil {
		return before, err
	}
	after, err := deepCopy(before)
	if err != nil {
		return before, err
	}
	edit(&after)
	var got *settings.Settings // stays nil when the answer has no settings
	err = c.call(http.MethodPost, pathUpdateSettings, updateRequest{Before: before, After: after}, &got)
	if got == nil {
		return before, err
	}
	c.remember(*got)
	return *got, err
}

// deepCopy copies s through JSON, so that edit changing a slice or map in
// the copy cannot change the original it is compared with.
func deepCopy(s settings.Settings) (settings.Settings, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return s, fmt.Errorf("copy settings: %w", err)
	}
	var out settings.Settings
	if err := json.Unmarshal(raw, &out); err != nil {
		return s, fmt.Errorf("copy settings: %w", err)
	}
	return out, nil
}

// SettingsUpdates delivers the settings in force after each change; a
// slow reader gets the latest only. The channel closes soon after cancel,
// or when the parent goes away.
func (c *Client) SettingsUpdates() (<-chan settings.Settings, func()) {
	return follow(c, pathSettingsUpdates, c.remember)
}

// Start runs the mirror.
func (c *Client) Start() error { return c.call(http.MethodPost, pathStart, nil, nil) }

// Stop stops the mirror.
func (c *Client) Stop() error { return c.call(http.MethodPost, pathStop, nil, nil) }

// Status returns the mirror's snapshot; when the parent cannot be asked,
// a failed state whose Err says why.
func (c *Client) Status() mirror.Status {
	var st mirror.Status
	if err := c.call(http.MethodGet, pathStatus, nil, &st); err != nil {
		return mirror.Status{State: mirror.Failed, Err: err.Error(), Counters: mirror.Counters{DockerHubPullsLeft: -1}}
	}
	return st
}

// Subscribe delivers a new snapshot on every change; a slow reader gets
// the latest only. The channel closes soon after cancel, or when the
// parent goes away.
func (c *Client) Subscribe() (<-chan mirror.Status, func()) {
	return follow[mirror.Status](c, pathStatusUpdates, nil)
}

// follow streams the values of path into a channel that keeps the latest
// only, calling seen (when not nil) with each. cancel ends the stream; it
// may be called any number of times.
func follow[T any](c *Client, path string, seen func(T)) (<-chan T, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan T, 1)
	go func() {
		defer close(ch)
		resp, err := c.send(ctx, http.MethodGet, path, nil)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			pump(ctx, resp.Body, ch, seen)
		}
	}()
	return ch, cancel
}

// pump decodes values from body into ch until body ends or ctx does,
// replacing a value not read yet: the caller must be ch's only sender, so
// a send after emptying ch never blocks and a slow reader finds the
// latest value only.
func pump[T any](ctx context.Context, body io.Reader, ch chan T, seen func(T)) {
	dec := json.NewDecoder(body)
	for {
		var v T
		if dec.Decode(&v) != nil || ctx.Err() != nil {
			return
		}
		if seen != nil {
			seen(v)
		}
		select {
		case <-ch:
		default:
		}
		ch <- v
	}
}

// Account returns the stored Docker Hub username, "" when none.
func (c *Client) Account() (string, error) {
	var a accountReply
	err := c.call(http.MethodGet, pathAccount, nil, &a)
	return a.User, err
}

// SaveAccount checks the account with Docker Hub, then stores it; the
// password goes in the request body only.
func (c *Client) SaveAccount(user, password string) error {
	return c.call(http.MethodPost, pathSaveAccount, accountRequest{User: user, Password: password}, nil)
}

// ApplySetup configures a client for the mirror; see ui.Backend.
func (c *Client) ApplySetup(client string) (string, error) {
	var report string
	err := c.call(http.MethodPost, pathApplySetup, applyRequest{Client: client}, &report)
	return report, err
}

// TestAccount checks the account with Docker Hub without storing it.
func (c *Client) TestAccount(user, password string) error {
	return c.call(http.MethodPost, pathTestAccount, accountRequest{User: user, Password: password}, nil)
}

// RemoveAccount deletes the stored account.
func (c *Client) RemoveAccount() error { return c.call(http.MethodPost, pathRemoveAccount, nil, nil) }

// CacheUsage says how full the cache is; zero when the parent cannot be
// asked.
func (c *Client) CacheUsage() mirror.CacheUsage {
	var u mirror.CacheUsage
	if err := c.call(http.MethodGet, pathCacheUsage, nil, &u); err != nil {
		return mirror.CacheUsage{}
	}
	return u
}

// VerifyCache hashes every cached blob again, removes the corrupt ones
// and returns their digests; progress is called on this goroutine as the
// parent reports.
func (c *Client) VerifyCache(progress func(done, total int)) ([]string, error) {
	var digests []string
	err := c.withProgress(pathVerifyCache, nil, func(p progressReport) {
		if progress != nil {
			progress(int(p.Done), int(p.Total))
		}
	}, &digests)
	return digests, err
}

// ClearCache empties the cache.
func (c *Client) ClearCache() error { return c.call(http.MethodPost, pathClearCache, nil, nil) }

// Prefetch downloads an image into the cache; progress is called on this
// goroutine as the parent reports.
func (c *Client) Prefetch(ref string, progress func(done, total int64)) error {
	return c.withProgress(pathPrefetch, prefetchRequest{Ref: ref}, func(p progressReport) {
		if progress != nil {
			progress(p.Done, p.Total)
		}
	}, nil)
}

// withProgress makes a call that streams progress frames, calling report
// with each, and decodes the final reply's value into out.
func (c *Client) withProgress(path string, in any, report func(progressReport), out any) error {
	resp, err := c.send(context.Background(), http.MethodPost, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readReply(resp, path, out)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var f frame
		if err := dec.Decode(&f); err != nil {
			return unreachable(fmt.Errorf("read the answer to %s: %w", path, err))
		}
		switch {
		case f.Reply != nil:
			return f.Reply.decode(resp, path, out)
		case f.Progress != nil:
			report(*f.Progress)
		}
	}
}

// About says what the About window shows; zero when the parent cannot be
// asked.
func (c *Client) About() ui.AboutInfo {
	var a ui.AboutInfo
	if err := c.call(http.MethodGet, pathAbout, nil, &a); err != nil {
		return ui.AboutInfo{}
	}
	return a
}

// Quit asks the parent to quit the whole app, this process included.
func (c *Client) Quit() error { return c.call(http.MethodPost, pathQuit, nil, nil) }

// Windows attaches this process as the window process and delivers the
// parent's window requests, in order, until ctx ends, the parent goes
// away, lets this process exit (see Idle) or another attach replaces
// this one; then the channel closes. It fails when the parent started no
// window process.
func (c *Client) Windows(ctx context.Context) (<-chan WindowRequest, error) {
	resp, err := c.send(ctx, http.MethodGet, pathWindows, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readReply(resp, pathWindows, nil)
	}
	ch := make(chan WindowRequest)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var r WindowRequest
			if dec.Decode(&r) != nil {
				return
			}
			select {
			case ch <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// Idle tells the parent this process shows no window and has handled the
// requests up to seq. exit is true when the parent agrees it may exit (no
// request after seq was sent); from then on the parent starts a new
// process for the next request, and this process's Windows channel
// closes.
func (c *Client) Idle(seq int) (exit bool, err error) {
	var r idleReply
	if err := c.call(http.MethodPost, pathIdle, idleRequest{Seq: seq}, &r); err != nil {
		return false, err
	}
	return r.Exit, nil
}
