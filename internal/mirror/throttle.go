package mirror

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Password guessing through /v2/auth: every Basic login there is forwarded
// to Docker Hub's token service, so the mirror counts failed logins per
// client address and per user name, and after a few refuses further
// attempts with 429 for a while, without asking upstream. An address and
// user that logged in successfully before (OWASP's "device cookie", keyed
// by address and user) are judged by their own failures only, so an
// attacker hammering that user name, or sharing the address, does not lock
// them out.
const (
	// loginFailuresAllowed failures within loginWindow start a lock.
	loginFailuresAllowed = 5
	loginWindow          = time.Minute
	// loginLockMax caps the lock, which starts at loginWindow and doubles
	// with every further failure. A record is forgotten loginLockMax after
	// its last lock ended.
	loginLockMax = 15 * time.Minute
	// loginDeviceTTL is how long a successful login is remembered.
	loginDeviceTTL = 30 * 24 * time.Hour
	// loginTableMax bounds each table (addresses, users, devices).
	loginTableMax = 10000
	// loginKeyMax is the longest user name kept as it is; longer ones are
	// kept as their hash.
	loginKeyMax = 128
	// loginBusyWait is the Retry-After while the attempts that would reach
	// the limit are still waiting for upstream's answer.
	loginBusyWait = time.Second
)

// failures is one address's, user's or device's recent failed logins.
type failures struct {
	count   int       // failures since first, or since the record was forgotten
	first   time.Time // the first of them
	until   time.Time // locked until
	pending int       // attempts let through and waiting for upstream's answer
	active  time.Time // last attempt or failure; the least active goes first
}

// forget drops failures that are old enough: below the limit, those from
// more than loginWindow ago; after a lock, all of them loginLockMax after
// it ended.
func (f *failures) forget(now time.Time) {
	if f.count < loginFailuresAllowed && now.Sub(f.first) >= loginWindow ||
		f.count >= loginFailuresAllowed && now.Sub(f.until) >= loginLockMax {
		f.count = 0
	}
}

// wait is how long an attempt must wait, 0 when it may go ahead: while
// locked, and while enough attempts to reach the limit are in flight (one
// at a time once a lock has ended).
func (f *failures) wait(now time.Time) time.Duration {
	if f == nil {
		return 0
	}
	if now.Before(f.until) {
		return f.until.Sub(now)
	}
	f.forget(now)
	if f.pending >= max(1, loginFailuresAllowed-f.count) {
		return loginBusyWait
	}
	return 0
}

// fail counts a failure and returns the lock it starts, or 0.
func (f *failures) fail(now time.Time) time.Duration {
	f.forget(now)
	if f.count == 0 {
		f.first = now
	}
	f.count++
	f.active = now
	if f.count < loginFailuresAllowed {
		return 0
	}
	d := loginLockMax
	if n := f.count - loginFailuresAllowed; n < 5 {
		d = min(loginWindow<<n, loginLockMax)
	}
	f.until = now.Add(d)
	return d
}

func (f *failures) idle(now time.Time) bool {
	f.forget(now)
	return f.pending == 0 && f.count == 0 && !now.Before(f.until)
}

// failureTable is failures by address or by user name.
type failureTable map[string]*failures

// take returns key's record, creating it; a full table first drops what is
// idle, then its least active record.
func (ft failureTable) take(key string, now time.Time) *failures {
	if f := ft[key]; f != nil {
		return f
	}
	if len(ft) >= loginTableMax {
		ft.sweep(now)
	}
	if len(ft) >= loginTableMax {
		evictOldest(ft, func(f *failures) time.Time { return f.active })
	}
	f := &failures{active: now}
	ft[key] = f
	return f
}

func (ft failureTable) sweep(now time.Time) {
	for k, f := range ft {
		if f.idle(now) {
			delete(ft, k)
		}
	}
}

// deviceKey is an address and a user name that logged in there.
type deviceKey struct{ addr, user string }

// device is a successful login remembered, with its own failures.
type device struct {
	seen  time.Time // last successful login
	fails failures
}

// loginThrottle holds the counts. Times come from the caller's clock.
type loginThrottle struct {
	mu      sync.Mutex
	addrs   failureTable
	users   failureTable
	devices map[deviceKey]*device
	swept   time.Time
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{addrs: failureTable{}, users: failureTable{}, devices: map[deviceKey]*device{}}
}

// sweep drops idle records and forgotten devices, at most once a window
// (and whenever a table is full), so memory follows recent use.
func (t *loginThrottle) sweep(now time.Time) {
	if now.Sub(t.swept) < loginWindow && len(t.devices) < loginTableMax {
		return
	}
	t.swept = now
	t.addrs.sweep(now)
	t.users.sweep(now)
	for k, d := range t.devices {
		if now.Sub(d.seen) >= loginDeviceTTL && d.fails.pending == 0 {
			delete(t.devices, k)
		}
	}
	if len(t.devices) >= loginTableMax {
		evictOldest(t.devices, func(d *device) time.Time { return d.seen })
	}
}

// evictOldest drops the least recently active tenth of a full table, so
// that a spray of new keys costs one sort per many inserts.
func evictOldest[K comparable, V any](m map[K]V, active func(V) time.Time) {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b K) int { return active(m[a]).Compare(active(m[b])) })
	for _, k := range keys[:len(keys)/10+1] {
		delete(m, k)
	}
}

// loginAttempt is one login with a password, from the check before it is
// forwarded to the end of the request.
type loginAttempt struct {
	t          *loginThrottle
	clock      func() time.Time
	log        *slog.Logger
	addr, user string
	device     *device     // when this address and user logged in before
	reserved   []*failures // the records it counts as pending on
	outcome    int         // 0 unknown, or one of loginFailed, loginSucceeded
}

const (
	loginFailed = 1 + iota
	loginSucceeded
)

// begin checks an attempt by user from addr. It returns the attempt, or
// how long the client must wait instead.
func (t *loginThrottle) begin(clock func() time.Time, log *slog.Logger, addr, user string) (*loginAttempt, time.Duration) {
	now := clock()
	user = userKey(user)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	a := &loginAttempt{t: t, clock: clock, log: log, addr: addr, user: user}
	if d := t.devices[deviceKey{addr, user}]; d != nil && now.Sub(d.seen) < loginDeviceTTL {
		if w := d.fails.wait(now); w > 0 {
			return nil, w
		}
		a.device, a.reserved = d, []*failures{&d.fails}
	} else {
		if w := max(t.addrs[addr].wait(now), t.users[user].wait(now)); w > 0 {
			return nil, w
		}
		a.reserved = []*failures{t.addrs.take(addr, now), t.users.take(user, now)}
	}
	for _, f := range a.reserved {
		f.pending++
		f.active = now
	}
	return a, 0
}

// failed notes that upstream refused the password. Methods on a nil
// attempt (no password was sent) do nothing.
func (a *loginAttempt) failed() {
	if a != nil {
		a.outcome = loginFailed
	}
}

// succeeded notes that upstream accepted the password.
func (a *loginAttempt) succeeded() {
	if a != nil {
		a.outcome = loginSucceeded
	}
}

// end counts the attempt's outcome, and logs a line when it starts a lock.
func (a *loginAttempt) end() {
	if a == nil {
		return
	}
	now := a.clock()
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range a.reserved {
		f.pending = max(0, f.pending-1)
	}
	switch a.outcome {
	case loginSucceeded:
		if a.device == nil {
			t.sweep(now)
			a.device = &device{}
			t.devices[deviceKey{a.addr, a.user}] = a.device
		}
		a.device.seen, a.device.fails.count = now, 0
	case loginFailed:
		var locked []string
		var lock time.Duration
		if a.device != nil {
			if d := a.device.fails.fail(now); d > 0 {
				locked, lock = append(locked, "address and user, who logged in there before"), d
			}
		}
		if d := t.addrs.take(a.addr, now).fail(now); d > 0 {
			locked, lock = append(locked, "address"), max(lock, d)
		}
		if d := t.users.take(a.user, now).fail(now); d > 0 {
			locked, lock = append(locked, "user"), max(lock, d)
		}
		if len(locked) > 0 {
			a.log.Warn("too many failed logins: login lock started", "addr", a.addr, "user", shorten(a.user),
				"locked", strings.Join(locked, ", "), "for", lock)
		}
	}
}

// userKey is the table key of a user name: Docker Hub's names are
// lower case, and a long name is kept as its hash.
func userKey(user string) string {
	user = strings.ToLower(user)
	if len(user) <= loginKeyMax {
		return user
	}
	sum := sha256.Sum256([]byte(user))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func shorten(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

// clientAddr is the address a request came from, as the throttle counts
// it: the connection's IP (X-Forwarded-For can be forged), an IPv6 one by
// its /64, as one host usually holds all of those.
func clientAddr(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// beginLogin checks a login at /v2/auth against the throttle. It returns
// the attempt to report upstream's answer to (nil without credentials:
// anonymous token requests are no failed logins), or the 429 to send.
func (s *server) beginLogin(r *http.Request, user string, hasCreds bool) (*loginAttempt, *regError) {
	if !hasCreds {
		return nil, nil
	}
	a, wait := s.sessions.logins.begin(s.sessions.clock, s.log, clientAddr(r), user)
	if wait == 0 {
		return a, nil
	}
	secs := int((wait + time.Second - 1) / time.Second)
	return nil, &regError{
		Code: codeTooManyRequests, RetryAfter: strconv.Itoa(secs),
		Message: fmt.Sprintf("too many failed logins from this address or for this user; try again in %d seconds", secs),
	}
}
