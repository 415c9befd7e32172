package uiremote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// sampleSettings has every kind of field set, to show they all cross.
func sampleSettings() settings.Settings {
	return settings.Settings{
		Listen: "127.0.0.1:5000", CacheDir: "/var/cache/hubmirror",
		Upstreams: map[string]string{"docker.io": "https://mirror.example"},
		SelfAuth:  true, AllowedUsers: []string{"alice", "bob"},
		StartOnLaunch: true, OpenAtLogin: true,
		Aliases:  map[string]string{"ghcr.mirror.lan": "ghcr.io"},
		CacheMax: "20GiB", Pinned: []string{"alpine:3.20"},
		TLS:           settings.TLS{Mode: settings.TLSFiles, Cert: "/c.pem", Key: "/k.pem"},
		InsecureLogin: true,
	}
}

// TestRoundTrip: every Backend method, and Quit, reach the backend with
// their arguments and bring back its answer.
func TestRoundTrip(t *testing.T) {
	f := newFake()
	f.inForce = sampleSettings()
	f.status = mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000", Listen: "127.0.0.1:5000",
		Counters: mirror.Counters{Requests: 7, CacheBytes: 1 << 40, DockerHubPullsLeft: -1,
			UpstreamRequests: map[string]int64{"manifest": 3}, UpstreamProblem: "Docker Hub is slow"}}
	f.user = "alice"
	f.usage = mirror.CacheUsage{Bytes: 5 << 30, Limit: 20 << 30, Blobs: 12}
	f.about = ui.AboutInfo{Version: "1.2.3", Commit: "abc", Modified: true,
		SettingsFile: "/s.json", CacheDir: "/c", LogFile: "/l.log"}
	f.corrupt = []string{"sha256:aa", "sha256:bb"}
	host := &fakeHost{}
	c := newRig(t, NewHandler(f, host, nil)).c

	if got := c.Settings(); !reflect.DeepEqual(got, f.inForce) {
		t.Errorf("Settings = %+v, want %+v", got, f.inForce)
	}
	s := sampleSettings()
	s.Listen = "0.0.0.0:5001"
	if err := c.SaveSettings(s); err != nil {
		t.Fatalf("SaveSettings: %v", err)
	}
	if len(f.saved) != 1 || !reflect.DeepEqual(f.saved[0], s) {
		t.Errorf("backend saved %+v, want %+v", f.saved, s)
	}
	for name, call := range map[string]func() error{
		"Start": c.Start, "Stop": c.Stop, "RemoveAccount": c.RemoveAccount, "ClearCache": c.ClearCache,
	} {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !f.called(name) {
			t.Errorf("%s did not reach the backend", name)
		}
	}
	if report, err := c.ApplySetup("podman"); report != "configured podman; restart it" || err != nil || !f.called("ApplySetup podman") {
		t.Errorf("ApplySetup = %q, %v", report, err)
	}
	f.setErr("ApplySetup podman", errors.New("cannot write /etc/containers/registries.conf: permission denied"))
	if report, err := c.ApplySetup("podman"); report == "" || err == nil {
		t.Errorf("ApplySetup failing = %q, %v: want the report (what to run) and the error", report, err)
	}
	f.setErr("ApplySetup podman", nil)
	if got := c.Status(); !reflect.DeepEqual(got, f.status) {
		t.Errorf("Status = %+v, want %+v", got, f.status)
	}
	if user, err := c.Account(); user != "alice" || err != nil {
		t.Errorf("Account = %q, %v", user, err)
	}
	if err := c.TestAccount("bob", "s3cret"); err != nil {
		t.Errorf("TestAccount: %v", err)
	}
	if err := c.SaveAccount("carol", "pa55"); err != nil {
		t.Errorf("SaveAccount: %v", err)
	}
	want := []accountRequest{{"bob", "s3cret"}, {"carol", "pa55"}}
	if !slices.Equal(f.accounts, want) {
		t.Errorf("backend got accounts %v, want %v", f.accounts, want)
	}
	if got := c.CacheUsage(); got != f.usage {
		t.Errorf("CacheUsage = %+v, want %+v", got, f.usage)
	}
	if got := c.About(); got != f.about {
		t.Errorf("About = %+v, want %+v", got, f.about)
	}
	if err := c.Quit(); err != nil || host.count() != 1 {
		t.Errorf("Quit: %v, host saw %d quits", err, host.count())
	}
}

// TestProgress: VerifyCache and Prefetch call progress as the reports
// arrive (the backend waits for the client to see the first one before
// it goes on), in order, and return the result.
func TestProgress(t *testing.T) {
	f := newFake()
	f.corrupt = []string{"sha256:aa"}
	c := newRig(t, NewHandler(f, nil, nil)).c

	f.gate = make(chan struct{})
	var steps [][2]int
	digests, err := c.VerifyCache(func(done, total int) {
		steps = append(steps, [2]int{done, total})
		if done == 1 {
			close(f.gate)
		}
	})
	if err != nil || !slices.Equal(digests, f.corrupt) {
		t.Errorf("VerifyCache = %v, %v; want %v", digests, err, f.corrupt)
	}
	if want := [][2]int{{1, 3}, {2, 3}, {3, 3}}; !slices.Equal(steps, want) {
		t.Errorf("VerifyCache progress %v, want %v", steps, want)
	}

	f.gate = make(chan struct{})
	var bytes [][2]int64
	err = c.Prefetch("alpine:3.20", func(done, total int64) {
		bytes = append(bytes, [2]int64{done, total})
		if done == 10 {
			close(f.gate)
		}
	})
	if err != nil {
		t.Errorf("Prefetch: %v", err)
	}
	if want := [][2]int64{{10, 1 << 40}, {1 << 40, 1 << 40}}; !slices.Equal(bytes, want) {
		t.Errorf("Prefetch progress %v, want %v", bytes, want)
	}
	if !slices.Equal(f.refs, []string{"alpine:3.20"}) {
		t.Errorf("backend prefetched %v", f.refs)
	}

	f.gate = nil
	f.setErr("Prefetch", errors.New("alpine:9: not found upstream"))
	if err := c.Prefetch("alpine:9", nil); err == nil || err.Error() != "alpine:9: not found upstream" {
		t.Errorf("Prefetch error = %v", err)
	}
	f.setErr("VerifyCache", errors.New("the cache directory is gone"))
	if _, err := c.VerifyCache(nil); err == nil || err.Error() != "the cache directory is gone" {
		t.Errorf("VerifyCache error = %v", err)
	}
}

// TestErrors: messages cross verbatim; a *settings.FieldError and
// mirror.ErrAddrInUse, bare or wrapped, are found by errors.As and
// errors.Is on the client; other errors are neither.
func TestErrors(t *testing.T) {
	f := newFake()
	c := newRig(t, NewHandler(f, nil, nil)).c
	fe := &settings.FieldError{Field: "listen", Value: "nope", Problem: "is not host:port"}

	cases := []struct {
		name      string
		err       error
		field     bool
		addrInUse bool
	}{
		{"bare field error", fe, true, false},
		{"wrapped field error", fmt.Errorf("%s: %w", "/home/u/settings.json", fe), true, false},
		{"bare addr in use", mirror.ErrAddrInUse, false, true},
		{"wrapped addr in use", fmt.Errorf("listen on 127.0.0.1:5000: %w", mirror.ErrAddrInUse), false, true},
		{"both", errors.Join(fe, mirror.ErrAddrInUse), true, true},
		{"plain", errors.New("the keyring is locked"), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.setErr("SaveSettings", tc.err)
			got := c.SaveSettings(sampleSettings())
			if got == nil || got.Error() != tc.err.Error() {
				t.Fatalf("error %q, want %q", got, tc.err)
			}
			var gotFE *settings.FieldError
			if errors.As(got, &gotFE) != tc.field {
				t.Errorf("errors.As FieldError = %v, want %v", !tc.field, tc.field)
			} else if tc.field && *gotFE != *fe {
				t.Errorf("FieldError = %+v, want %+v", *gotFE, *fe)
			}
			if errors.Is(got, mirror.ErrAddrInUse) != tc.addrInUse {
				t.Errorf("errors.Is ErrAddrInUse = %v, want %v", !tc.addrInUse, tc.addrInUse)
			}
			if errors.Is(got, ErrUnreachable) {
				t.Error("an answer from the app counts as unreachable")
			}
		})
	}
	f.setErr("Account", errors.New("no keyring"))
	if _, err := c.Account(); err == nil || err.Error() != "no keyring" || errors.Is(err, ui.ErrKeyringUnavailable) {
		t.Errorf("Account error = %v", err)
	}
	// The keyring's own words, and the mark the window branches on.
	f.setErr("Account", fmt.Errorf("the keyring is locked: %w", ui.ErrKeyringUnavailable))
	if _, err := c.Account(); err == nil || err.Error() != "the keyring is locked: the OS keyring is not available" || !errors.Is(err, ui.ErrKeyringUnavailable) {
		t.Errorf("Account error = %v, want it to be ui.ErrKeyringUnavailable's", err)
	}
}

// TestUnreachable: with the parent gone, calls fail with an error that
// says so, the error-less methods make do, and streams close.
func TestUnreachable(t *testing.T) {
	c := dialClient(t.TempDir() + "/none")
	err := c.Start()
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "hubmirror app is not reachable") {
		t.Errorf("Start error = %v", err)
	}
	if _, err := c.UpdateSettings(func(*settings.Settings) {}); !errors.Is(err, ErrUnreachable) {
		t.Errorf("UpdateSettings error = %v", err)
	}
	if _, err := c.Windows(t.Context()); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Windows error = %v", err)
	}
	if st := c.Status(); st.State != mirror.Failed || !strings.Contains(st.Err, "not reachable") {
		t.Errorf("Status = %+v", st)
	}
	ch, cancel := c.Subscribe()
	defer cancel()
	waitClosed(t, ch)
}

// TestUpdateSettingsKeepsUntouched: the window's edit changes only what
// it changed in the settings file as it is when applied: a pin another
// program added after the window read the settings stays, a map edited in
// place is seen as changed (the edit gets a deep copy), and an emptied
// omitempty field is emptied on disk.
func TestUpdateSettingsKeepsUntouched(t *testing.T) {
	f := newFake()
	f.inForce = sampleSettings()
	f.disk = sampleSettings()
	f.afterSettings = func(disk *settings.Settings) {
		disk.Pinned = append(slices.Clone(disk.Pinned), "busybox:1") // `hubmirror pin add`, meanwhile
	}
	c := newRig(t, NewHandler(f, nil, nil)).c

	got, err := c.UpdateSettings(func(s *settings.Settings) {
		s.Listen = "127.0.0.1:6000"
		s.Upstreams["quay.io"] = "https://quay.example" // in place: needs a deep copy
		s.Aliases = nil                                 // omitempty: the key vanishes
	})
	if err != nil {
		t.Fatalf("UpdateSettings: %v", err)
	}
	want := sampleSettings()
	want.Listen = "127.0.0.1:6000"
	want.Upstreams["quay.io"] = "https://quay.example"
	want.Aliases = nil
	want.Pinned = []string{"alpine:3.20", "busybox:1"}
	if !reflect.DeepEqual(f.disk, want) {
		t.Errorf("disk = %+v\nwant %+v", f.disk, want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UpdateSettings returned %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(c.Settings(), want) {
		t.Error("Settings after UpdateSettings differs from what it returned")
	}
}

// TestUpdateSettingsError: a failed update returns the backend's error and
// the settings then in force.
func TestUpdateSettingsError(t *testing.T) {
	f := newFake()
	f.inForce = sampleSettings()
	fe := &settings.FieldError{Field: "pinned", Value: "!", Problem: "is not an image reference"}
	f.setErr("UpdateSettings", fe)
	c := newRig(t, NewHandler(f, nil, nil)).c
	got, err := c.UpdateSettings(func(s *settings.Settings) { s.Pinned = []string{"!"} })
	var gotFE *settings.FieldError
	if !errors.As(err, &gotFE) || *gotFE != *fe {
		t.Errorf("error = %v, want %v", err, fe)
	}
	if !reflect.DeepEqual(got, f.inForce) {
		t.Errorf("returned %+v, want the settings in force", got)
	}
}

// streamCase drives one of the two subscriptions through the same test.
type streamCase[T any] struct {
	open    func(*Client) (<-chan T, func())
	path    string
	subs    func(*fakeBackend) map[chan T]struct{}
	value   func(i int) T
	ordinal func(T) int
}

// TestSubscribe and TestSettingsUpdates run streamTests on each stream.
func TestSubscribe(t *testing.T) {
	streamTests(t, streamCase[mirror.Status]{
		open: (*Client).Subscribe,
		path: pathStatusUpdates,
		subs: func(f *fakeBackend) map[chan mirror.Status]struct{} { return f.statusSubs },
		value: func(i int) mirror.Status {
			return mirror.Status{State: mirror.Running, Counters: mirror.Counters{Requests: int64(i)}}
		},
		ordinal: func(s mirror.Status) int { return int(s.Requests) },
	})
}

func TestSettingsUpdates(t *testing.T) {
	streamTests(t, streamCase[settings.Settings]{
		open:    (*Client).SettingsUpdates,
		path:    pathSettingsUpdates,
		subs:    func(f *fakeBackend) map[chan settings.Settings]struct{} { return f.settingsSubs },
		value:   func(i int) settings.Settings { return settings.Settings{CacheMax: strconv.Itoa(i)} },
		ordinal: func(s settings.Settings) int { n, _ := strconv.Atoi(s.CacheMax); return n },
	})
}

// streamTests: values arrive; a slow reader gets the latest only; cancel
// closes the channel and ends the backend's subscription (no handler left
// running), and may be called twice; the server going away closes it.
func streamTests[T any](t *testing.T, sc streamCase[T]) {
	t.Run("deliver", func(t *testing.T) {
		f := newFake()
		c := newRig(t, NewHandler(f, nil, nil)).c
		ch, cancel := sc.open(c)
		defer cancel()
		if cap(ch) != 1 {
			t.Errorf("the channel holds %d values, want 1: the latest", cap(ch))
		}
		testutil.Eventually(t, "the subscription", func() bool { return subCount(f, sc.subs(f)) == 1 })
		for i := 1; i <= 3; i++ {
			publish(f, sc.subs(f), sc.value(i))
			v, ok := recv(t, ch)
			if !ok || sc.ordinal(v) != i {
				t.Fatalf("got %v (open %v), want value %d", v, ok, i)
			}
		}
	})
	t.Run("latest only", func(t *testing.T) {
		// The client's pump runs here, on the test's goroutine, over a
		// real stream, so that it has taken in every value before the
		// reader looks.
		f := newFake()
		r := newRig(t, NewHandler(f, nil, nil))
		ctx, cancel := context.WithTimeout(t.Context(), patience)
		defer cancel()
		resp, err := r.c.send(ctx, http.MethodGet, sc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		testutil.Eventually(t, "the subscription", func() bool { return subCount(f, sc.subs(f)) == 1 })
		for i := 1; i <= 50; i++ {
			publish(f, sc.subs(f), sc.value(i))
		}
		endSubs(f, sc.subs(f)) // the stream ends after the last value
		ch := make(chan T, 1)
		pump(ctx, resp.Body, ch, nil)
		close(ch)
		var got []int
		for v := range ch {
			got = append(got, sc.ordinal(v))
		}
		if !slices.Equal(got, []int{50}) {
			t.Errorf("a reader that waited got %v, want only the latest, 50", got)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		f := newFake()
		c := newRig(t, NewHandler(f, nil, nil)).c
		ch, cancel := sc.open(c)
		testutil.Eventually(t, "the subscription", func() bool { return subCount(f, sc.subs(f)) == 1 })
		cancel()
		waitClosed(t, ch)
		testutil.Eventually(t, "the server to cancel the backend's subscription", func() bool { return subCount(f, sc.subs(f)) == 0 })
		cancel()
	})
	t.Run("server gone", func(t *testing.T) {
		f := newFake()
		r := newRig(t, NewHandler(f, nil, nil))
		ch, cancel := sc.open(r.c)
		defer cancel()
		testutil.Eventually(t, "the subscription", func() bool { return subCount(f, sc.subs(f)) == 1 })
		r.srv.Close()
		waitClosed(t, ch)
		testutil.Eventually(t, "the server to cancel the backend's subscription", func() bool { return subCount(f, sc.subs(f)) == 0 })
	})
}

// recorder wraps a handler and keeps every request's URL and headers.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.seen = append(rc.seen, r.URL.String(), fmt.Sprint(r.Header))
	rc.mu.Unlock()
	rc.next.ServeHTTP(w, r)
}

// TestPasswordInBodyOnly: the password reaches the backend but no URL or
// header, and is not in the error of a failed check.
func TestPasswordInBodyOnly(t *testing.T) {
	f := newFake()
	f.setErr("TestAccount", errors.New("the username or password for bob was refused by Docker Hub"))
	rec := &recorder{next: NewHandler(f, nil, nil)}
	c := newRig(t, rec).c
	err := c.TestAccount("bob", "hunter2-secret")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("TestAccount error = %v", err)
	}
	if err := c.SaveAccount("bob", "hunter2-secret"); err != nil {
		t.Fatal(err)
	}
	if len(f.accounts) != 2 || f.accounts[1].Password != "hunter2-secret" {
		t.Errorf("backend got %v", f.accounts)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, s := range rec.seen {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password outside the body: %s", s)
		}
	}
}

// TestBadRequests: unknown paths, wrong methods, bad bodies and an attach
// with no window process get a 4xx with a JSON error, which never quotes
// the body.
func TestBadRequests(t *testing.T) {
	f := newFake()
	r := newRig(t, NewHandler(f, nil, NewWindows(nil, nil)))
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/nope", "", http.StatusNotFound},
		{"POST", pathQuit, "", http.StatusNotFound}, // no Host
		{"GET", pathStart, "", http.StatusMethodNotAllowed},
		{"POST", pathSettings, "", http.StatusMethodNotAllowed},
		{"POST", pathSaveAccount, `{"user": "bob", "password": hunter2}`, http.StatusBadRequest},
		{"POST", pathSaveAccount, `{"user": "bob", "password": "hunter2"} {}`, http.StatusBadRequest},
		{"POST", pathSaveSettings, `{"listen": 5}`, http.StatusBadRequest},
		{"POST", pathIdle, ``, http.StatusBadRequest},
		{"GET", pathWindows, "", http.StatusConflict},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, baseURL+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var rep reply
		if resp.StatusCode != tc.status || json.Unmarshal(body, &rep) != nil || rep.Error == nil || rep.Error.Message == "" {
			t.Errorf("%s %s: %d %s, want %d with a JSON error", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
		if strings.Contains(string(body), "hunter2") {
			t.Errorf("%s %s: the answer quotes the body: %s", tc.method, tc.path, body)
		}
	}
	if f.called("SaveAccount") || f.called("SaveSettings") {
		t.Error("a bad request reached the backend")
	}
	if err := r.c.Quit(); err == nil || !strings.Contains(err.Error(), "no such call") {
		t.Errorf("Quit without a host: %v", err)
	}
}
