package uiremote

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// patience bounds every wait in these tests: generous, as it only decides
// how long a failing test takes.
const patience = 5 * time.Second

// fakeBackend is an in-memory ui.Backend. "disk" is the settings file,
// inForce what Settings answers; errs makes a method fail.
type fakeBackend struct {
	mu       sync.Mutex
	disk     settings.Settings
	inForce  settings.Settings
	status   mirror.Status
	user     string
	usage    mirror.CacheUsage
	about    ui.AboutInfo
	corrupt  []string
	errs     map[string]error
	calls    []string
	saved    []settings.Settings
	accounts []accountRequest
	refs     []string
	// afterSettings, when set, runs after Settings answers: it changes
	// the disk between a client's Settings and its UpdateSettings.
	afterSettings func(disk *settings.Settings)
	// gate, when set, is what VerifyCache and Prefetch wait on after
	// their first progress report, to show that reports are streamed.
	gate chan struct{}

	statusSubs   map[chan mirror.Status]struct{}
	settingsSubs map[chan settings.Settings]struct{}
}

func newFake() *fakeBackend {
	return &fakeBackend{
		errs:         map[string]error{},
		statusSubs:   map[chan mirror.Status]struct{}{},
		settingsSubs: map[chan settings.Settings]struct{}{},
	}
}

var _ ui.Backend = (*fakeBackend)(nil)

// record notes a call and returns the error set for it.
func (f *fakeBackend) record(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return f.errs[name]
}

func (f *fakeBackend) setErr(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[name] = err
}

func (f *fakeBackend) called(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c == name {
			return true
		}
	}
	return false
}

func (f *fakeBackend) Settings() settings.Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.inForce
	if f.afterSettings != nil {
		f.afterSettings(&f.disk)
	}
	return s
}

func (f *fakeBackend) SaveSettings(s settings.Settings) error {
	if err := f.record("SaveSettings"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, s)
	f.disk, f.inForce = s, s
	return nil
}

// UpdateSettings edits the disk as the real backend edits the file.
func (f *fakeBackend) UpdateSettings(edit func(*settings.Settings)) (settings.Settings, error) {
	if err := f.record("UpdateSettings"); err != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.inForce, err
	}
	f.mu.Lock()
	s := f.disk
	f.mu.Unlock()
	edit(&s)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disk, f.inForce = s, s
	return s, nil
}

func (f *fakeBackend) SettingsUpdates() (<-chan settings.Settings, func()) {
	return subscribe(f, f.settingsSubs)
}

func (f *fakeBackend) Start() error { return f.record("Start") }
func (f *fakeBackend) Stop() error  { return f.record("Stop") }

func (f *fakeBackend) Status() mirror.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeBackend) Subscribe() (<-chan mirror.Status, func()) {
	return subscribe(f, f.statusSubs)
}

// subscribe adds a latest-only subscriber to subs, as the real backend does.
func subscribe[T any](f *fakeBackend, subs map[chan T]struct{}) (<-chan T, func()) {
	ch := make(chan T, 1)
	f.mu.Lock()
	subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(subs, ch)
		f.mu.Unlock()
	}
}

// publish hands v to every subscriber in subs, replacing an unread value.
func publish[T any](f *fakeBackend, subs map[chan T]struct{}, v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range subs {
		select {
		case <-ch:
		default:
		}
		ch <- v
	}
}

// endSubs closes every subscriber's channel, as a backend whose
// subscriptions end would.
func endSubs[T any](f *fakeBackend, subs map[chan T]struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range subs {
		close(ch)
		delete(subs, ch)
	}
}

// subCount says how many subscribers subs has.
func subCount[T any](f *fakeBackend, subs map[chan T]struct{}) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(subs)
}

func (f *fakeBackend) Account() (string, error) {
	err := f.record("Account")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.user, err
}

func (f *fakeBackend) SaveAccount(user, password string) error {
	f.mu.Lock()
	f.accounts = append(f.accounts, accountRequest{User: user, Password: password})
	f.mu.Unlock()
	return f.record("SaveAccount")
}

func (f *fakeBackend) TestAccount(user, password string) error {
	f.mu.Lock()
	f.accounts = append(f.accounts, accountRequest{User: user, Password: password})
	f.mu.Unlock()
	return f.record("TestAccount")
}

func (f *fakeBackend) RemoveAccount() error { return f.record("RemoveAccount") }

func (f *fakeBackend) CacheUsage() mirror.CacheUsage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usage
}

// VerifyCache reports three steps, waiting on the gate after the first.
func (f *fakeBackend) VerifyCache(progress func(done, total int)) ([]string, error) {
	if err := f.record("VerifyCache"); err != nil {
		return nil, err
	}
	progress(1, 3)
	if err := f.waitGate(); err != nil {
		return nil, err
	}
	progress(2, 3)
	progress(3, 3)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.corrupt, nil
}

func (f *fakeBackend) ClearCache() error { return f.record("ClearCache") }

// ApplySetup reports what it would do; with an error set, the report
// still comes (it says how to fix it).
func (f *fakeBackend) ApplySetup(client string) (string, error) {
	err := f.record("ApplySetup " + client)
	return "configured " + client + "; restart it", err
}

// Prefetch reports two steps, waiting on the gate after the first.
func (f *fakeBackend) Prefetch(ref string, progress func(done, total int64)) error {
	f.mu.Lock()
	f.refs = append(f.refs, ref)
	f.mu.Unlock()
	if err := f.record("Prefetch"); err != nil {
		return err
	}
	progress(10, 1<<40)
	if err := f.waitGate(); err != nil {
		return err
	}
	progress(1<<40, 1<<40)
	return nil
}

// waitGate waits for the gate, if there is one.
func (f *fakeBackend) waitGate() error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-time.After(patience):
		return errors.New("the first progress report never reached the client")
	}
}

func (f *fakeBackend) About() ui.AboutInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.about
}

// fakeHost counts Quit calls.
type fakeHost struct {
	mu    sync.Mutex
	quits int
}

func (h *fakeHost) Quit() {
	h.mu.Lock()
	h.quits++
	h.mu.Unlock()
}

func (h *fakeHost) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.quits
}

// rig is a server on a real unix socket and a client that dials it.
type rig struct {
	srv  *http.Server
	sock string
	c    *Client
}

// newRig serves handler on a unix socket in a fresh short directory (a
// socket path must stay under about 100 bytes) and returns a client for it.
func newRig(t *testing.T, handler http.Handler) *rig {
	t.Helper()
	dir, err := os.MkdirTemp("", "uir")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{srv: &http.Server{Handler: handler}, sock: sock}
	go func() { _ = r.srv.Serve(ln) }()
	r.c = dialClient(sock)
	t.Cleanup(func() {
		r.srv.Close()
		r.c.hc.CloseIdleConnections()
	})
	return r
}

// dialClient returns a Client that dials the unix socket at sock.
func dialClient(sock string) *Client {
	return NewClient(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	})
}

// recv receives from ch, failing the test after patience; ok is false when
// ch closed.
func recv[T any](t *testing.T, ch <-chan T) (v T, ok bool) {
	t.Helper()
	select {
	case v, ok = <-ch:
		return v, ok
	case <-time.After(patience):
		t.Fatal("timed out waiting on a channel")
		return v, false
	}
}

// waitClosed drains ch until it closes, failing the test after patience,
// and returns what it drained.
func waitClosed[T any](t *testing.T, ch <-chan T) []T {
	t.Helper()
	var got []T
	for {
		v, ok := recv(t, ch)
		if !ok {
			return got
		}
		got = append(got, v)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLog returns a logger writing to a buffer the test can read.
func newLog() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, nil)), buf
}
