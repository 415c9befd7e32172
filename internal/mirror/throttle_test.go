package mirror

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// authQuery is what docker login sends to the token endpoint.
func authQuery(user string) string {
	q := url.Values{"service": {"hubmirror"}, "client_id": {"docker"}, "account": {user}, "offline_token": {"true"}}
	return "/v2/auth?" + q.Encode()
}

func basicAuth(user, password string) string {
	addSecret(password)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// startThrottleMirror starts a self_auth mirror that takes logins over
// plain HTTP from any address, for loginFrom.
func startThrottleMirror(t *testing.T, hub *fakehub.Hub) *testMirror {
	t.Helper()
	return startMirrorCfg(t, hub, func(c *Config) {
		c.Access.SelfAuth, c.InsecureLogin = true, true
	})
}

// loginFrom sends docker login's token request straight to the mirror's
// handler as if it came from addr ("203.0.113.7:40000"), so a test can play
// clients at several addresses. user "" sends no credentials.
func (tm *testMirror) loginFrom(t *testing.T, addr, user, password string) *httptest.ResponseRecorder {
	t.Helper()
	tm.mu.Lock()
	h := tm.srv.Handler
	tm.mu.Unlock()
	req := httptest.NewRequest(http.MethodGet, "http://"+tm.Addr()+authQuery(user), nil)
	req.RemoteAddr = addr
	if user != "" {
		req.Header.Set("Authorization", basicAuth(user, password))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// moveClock moves the mirror's clock (sessions and login throttle) by d.
func (tm *testMirror) moveClock(d time.Duration) {
	tm.sessions.mu.Lock()
	defer tm.sessions.mu.Unlock()
	old := tm.sessions.now
	tm.sessions.now = func() time.Time { return old().Add(d) }
}

// retryAfter reads a 429's Retry-After in seconds.
func retryAfter(t *testing.T, h http.Header) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("Retry-After %q, want whole seconds", h.Get("Retry-After"))
	}
	return time.Duration(n) * time.Second
}

// 300 wrong passwords in a row: only the first few reach Docker Hub's token
// service, the rest get 429 TOOMANYREQUESTS with Retry-After; once that
// has passed attempts are forwarded again, with a longer lock after each
// further failure.
func TestLoginThrottleStopsGuessing(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-right-pw")
	tm := startAuthMirror(t, hub)

	before := hub.Counters().TokenRequests
	var refused int
	var wait time.Duration
	for i := range 300 {
		r := tm.get(t, authQuery("alice"), "Authorization", basicAuth("alice", fmt.Sprintf("guess-%03d", i)))
		switch r.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused++
			if code := errorCode(t, r); code != codeTooManyRequests {
				t.Fatalf("attempt %d: code %s", i, code)
			}
			wait = retryAfter(t, r.header)
		default:
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
	}
	forwarded := hub.Counters().TokenRequests - before
	t.Logf("300 wrong passwords: %d reached the token service, %d got 429", forwarded, refused)
	if forwarded > loginFailuresAllowed || refused != 300-int(forwarded) {
		t.Errorf("%d attempts reached the token service, %d refused; want at most %d forwarded", forwarded, refused, loginFailuresAllowed)
	}
	if n := strings.Count(tm.logs.String(), "login lock started"); n != 1 {
		t.Errorf("%d log lines about the lock, want 1", n)
	}

	// Locked: even the right password is not forwarded now.
	before = hub.Counters().TokenRequests
	if st, _ := tm.login(t, "alice", "alice-right-pw"); st != http.StatusTooManyRequests {
		t.Errorf("right password during the lock: %d, want 429", st)
	}
	tm.moveClock(wait)
	if st, _ := tm.login(t, "alice", "guess-after-lock"); st != http.StatusUnauthorized {
		t.Errorf("after Retry-After: %d, want the attempt forwarded (401)", st)
	}
	if got := hub.Counters().TokenRequests - before; got != 1 {
		t.Errorf("%d token requests after the lock, want 1", got)
	}
	r := tm.get(t, authQuery("alice"), "Authorization", basicAuth("alice", "guess-next"))
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("a failure after the lock: next attempt %d, want 429", r.status)
	}
	if longer := retryAfter(t, r.header); longer <= wait {
		t.Errorf("the lock did not grow: %v then %v", wait, longer)
	}
	tm.moveClock(loginLockMax)
	if st, _ := tm.login(t, "alice", "alice-right-pw"); st != http.StatusOK {
		t.Errorf("right password after the lock: %d", st)
	}
}

// Concurrent guesses do not get past the threshold either.
func TestLoginThrottleConcurrentGuesses(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-right-pw")
	tm := startAuthMirror(t, hub)
	tm.login(t, "", "") // learn upstream's challenge first

	before := hub.Counters().TokenRequests
	// Its own transport, to close the connections it dialled but did not
	// use: the server's shutdown waits for those.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, tm.base+authQuery("alice"), nil)
			req.Header.Set("Authorization", basicAuth("alice", fmt.Sprintf("guess-%03d", i)))
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("attempt %d: %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if got := hub.Counters().TokenRequests - before; got > loginFailuresAllowed {
		t.Errorf("%d of 100 concurrent guesses reached the token service, want at most %d", got, loginFailuresAllowed)
	}
}

// Alice, who logged in from her address before, still gets in while an
// attacker hammers her user name from elsewhere and other names from her
// address; others are locked out by the same attack.
func TestLoginThrottleKnownDeviceGetsIn(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-right-pw")
	hub.AddUser("carol", "carol-right-pw")
	tm := startThrottleMirror(t, hub)
	home := "192.0.2.10"

	if r := tm.loginFrom(t, home+":50000", "alice", "alice-right-pw"); r.Code != http.StatusOK {
		t.Fatalf("alice's first login: %d", r.Code)
	}
	before := hub.Counters().TokenRequests
	for i := range 300 {
		tm.loginFrom(t, fmt.Sprintf("198.51.100.%d:4000", i%100), "alice", fmt.Sprintf("guess-%03d", i))
		tm.loginFrom(t, fmt.Sprintf("%s:%d", home, 51000+i), fmt.Sprintf("user%d", i%30), fmt.Sprintf("guess-%03d", i))
	}
	if got := hub.Counters().TokenRequests - before; got > 2*loginFailuresAllowed {
		t.Errorf("%d guesses reached the token service, want at most %d", got, 2*loginFailuresAllowed)
	}
	if r := tm.loginFrom(t, home+":52000", "alice", "alice-right-pw"); r.Code != http.StatusOK {
		t.Errorf("alice from her address during the attack: %d %s", r.Code, r.Body)
	}
	for _, tc := range []struct{ addr, user, password string }{
		{"192.0.2.11:1", "alice", "alice-right-pw"}, // her user name is locked
		{home + ":2", "carol", "carol-right-pw"},    // her address is locked
	} {
		if r := tm.loginFrom(t, tc.addr, tc.user, tc.password); r.Code != http.StatusTooManyRequests {
			t.Errorf("%s from %s: %d, want 429", tc.user, tc.addr, r.Code)
		}
	}
}

// A user with the right password and no failures behind them is never
// throttled, whatever happens to other users at other addresses.
func TestLoginThrottleFreshUserNotDelayed(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-right-pw")
	hub.AddUser("carol", "carol-right-pw")
	tm := startThrottleMirror(t, hub)
	for i := range 50 {
		tm.loginFrom(t, "198.51.100.7:4000", "alice", fmt.Sprintf("guess-%03d", i))
	}
	for i := range 3 {
		if r := tm.loginFrom(t, "[2001:db8::1]:443", "carol", "carol-right-pw"); r.Code != http.StatusOK {
			t.Errorf("carol's login %d: %d %s", i, r.Code, r.Body)
		}
	}
}

// Token requests without credentials are no failed logins.
func TestLoginThrottleIgnoresAnonymous(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-right-pw")
	tm := startAuthMirror(t, hub)
	for i := range 300 {
		if st, _ := tm.login(t, "", ""); st != http.StatusOK {
			t.Fatalf("anonymous token %d: %d", i, st)
		}
	}
	if st, _ := tm.login(t, "alice", "wrong-password"); st != http.StatusUnauthorized {
		t.Errorf("a wrong password after 300 anonymous requests: %d, want 401", st)
	}
	if st, _ := tm.login(t, "alice", "alice-right-pw"); st != http.StatusOK {
		t.Errorf("the right password: %d", st)
	}
}

// fakeClock is a settable clock for the throttle's own tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// try runs one login through th at the clock's time, failing when ok is
// false, and returns how long it was refused for (0: it was let through).
func (c *fakeClock) try(th *loginThrottle, addr, user string, ok bool) time.Duration {
	a, wait := th.begin(c.now, slog.New(slog.DiscardHandler), addr, user)
	if wait > 0 {
		return wait
	}
	if ok {
		a.succeeded()
	} else {
		a.failed()
	}
	a.end()
	return 0
}

// The lock doubles with each failure after one, up to loginLockMax, and is
// forgotten after a quiet spell.
func TestLoginThrottleBackOff(t *testing.T) {
	th := newLoginThrottle()
	c := &fakeClock{t: time.Unix(1e9, 0)}
	for range loginFailuresAllowed {
		if w := c.try(th, "192.0.2.1", "alice", false); w != 0 {
			t.Fatalf("refused before the threshold: %v", w)
		}
	}
	var locks []time.Duration
	for range 7 {
		w := c.try(th, "192.0.2.1", "alice", false)
		locks = append(locks, w)
		c.t = c.t.Add(w)
		if w := c.try(th, "192.0.2.1", "alice", false); w != 0 {
			t.Fatalf("refused after the lock ended: %v", w)
		}
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	if fmt.Sprint(locks) != fmt.Sprint(want) {
		t.Errorf("locks %v, want %v", locks, want)
	}
	c.t = c.t.Add(2 * loginLockMax)
	for i := range loginFailuresAllowed {
		if w := c.try(th, "192.0.2.1", "alice", false); w != 0 {
			t.Fatalf("failure %d after a quiet spell refused: %v", i, w)
		}
	}
}

// The tables stay bounded under a spray of addresses and user names, and
// old entries go.
func TestLoginThrottleBounded(t *testing.T) {
	th := newLoginThrottle()
	c := &fakeClock{t: time.Unix(1e9, 0)}
	long := strings.Repeat("x", 1000)
	for i := range 2*loginTableMax + 1000 {
		c.try(th, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("%s%d", long, i), i%4 != 0)
	}
	size := func() (lens [3]int, bytes int) {
		th.mu.Lock()
		defer th.mu.Unlock()
		for k := range th.addrs {
			bytes += len(k)
		}
		for k := range th.users {
			bytes += len(k)
		}
		for k := range th.devices {
			bytes += len(k.addr) + len(k.user)
		}
		return [3]int{len(th.addrs), len(th.users), len(th.devices)}, bytes
	}
	if lens, b := size(); slices.Max(lens[:]) > loginTableMax || b > 3*loginTableMax*200 {
		t.Errorf("%v entries (addresses, users, devices), %d bytes of keys after a spray", lens, b)
	}
	c.t = c.t.Add(loginDeviceTTL + time.Hour)
	c.try(th, "192.0.2.1", "alice", true)
	if lens, _ := size(); lens != [3]int{1, 1, 1} {
		t.Errorf("%v entries left after everything expired, want one of each", lens)
	}
}
