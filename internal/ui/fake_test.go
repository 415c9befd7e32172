package ui

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// fakeBackend records the calls the UI makes and returns what the test
// set. Its methods run in the UI's goroutines; tests read its fields after
// u.wait().
type fakeBackend struct {
	mu       sync.Mutex
	settings settings.Settings
	status   mirror.Status
	updates  chan mirror.Status
	calls    []string            // every blocking call, in order
	saved    []settings.Settings // what SaveSettings and UpdateSettings wrote
	errs     map[string]error    // the error each call returns, by name
	account  string              // what Account returns
	block    chan struct{}       // when set, account calls wait for it
	canceled bool                // Subscribe's cancel was called
	usage    mirror.CacheUsage   // what CacheUsage returns
	corrupt  []string            // what VerifyCache returns
	about    AboutInfo           // what About returns

	onDisk chan settings.Settings // settings changes; see changeOnDisk
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		settings: settings.Settings{
			Listen:        "127.0.0.1:5000",
			CacheDir:      "/var/cache/hubmirror",
			Upstreams:     map[string]string{"ghcr.io": "https://ghcr.io"},
			AllowedUsers:  []string{"alice", "bob1"},
			StartOnLaunch: true,
		},
		status:  mirror.Status{State: mirror.Stopped, Counters: mirror.Counters{DockerHubPullsLeft: -1}},
		updates: make(chan mirror.Status),
		onDisk:  make(chan settings.Settings),
		errs:    map[string]error{},
		account: "alice",
	}
}

func (b *fakeBackend) record(call string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call)
	name := call
	for i, c := range call {
		if c == ' ' {
			name = call[:i]
			break
		}
	}
	return b.errs[name]
}

// Calls returns the calls made so far.
func (b *fakeBackend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

func (b *fakeBackend) wait() {
	if b.block != nil {
		<-b.block
	}
}

func (b *fakeBackend) Settings() settings.Settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.settings
	s.AllowedUsers = append([]string(nil), s.AllowedUsers...)
	s.Upstreams = map[string]string{}
	for k, v := range b.settings.Upstreams {
		s.Upstreams[k] = v
	}
	return s
}

func (b *fakeBackend) SaveSettings(s settings.Settings) error {
	err := b.record("SaveSettings")
	b.mu.Lock()
	defer b.mu.Unlock()
	b.saved = append(b.saved, s)
	if err == nil {
		b.settings = s
	}
	return err
}

// UpdateSettings edits the fake's settings, which stand for the file.
func (b *fakeBackend) UpdateSettings(edit func(*settings.Settings)) (settings.Settings, error) {
	err := b.record("UpdateSettings")
	cur := b.Settings()
	if err != nil {
		return cur, err
	}
	edit(&cur)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.saved = append(b.saved, cur)
	b.settings = cur
	return cur, nil
}

func (b *fakeBackend) SettingsUpdates() (<-chan settings.Settings, func()) {
	return b.onDisk, func() {}
}

func (b *fakeBackend) Start() error          { return b.record("Start") }
func (b *fakeBackend) Stop() error           { return b.record("Stop") }
func (b *fakeBackend) Status() mirror.Status { return b.status }

func (b *fakeBackend) Subscribe() (<-chan mirror.Status, func()) {
	return b.updates, func() {
		b.mu.Lock()
		b.canceled = true
		b.mu.Unlock()
	}
}

func (b *fakeBackend) Account() (string, error) {
	err := b.record("Account")
	if err != nil {
		return "", err
	}
	return b.account, nil
}

func (b *fakeBackend) SaveAccount(user, password string) error {
	b.wait()
	return b.record(fmt.Sprintf("SaveAccount %s %s", user, password))
}

func (b *fakeBackend) TestAccount(user, password string) error {
	b.wait()
	return b.record(fmt.Sprintf("TestAccount %s %s", user, password))
}

func (b *fakeBackend) RemoveAccount() error {
	b.wait()
	return b.record("RemoveAccount")
}

// fakeApp is Fyne's test app with a system tray, and notifications,
// browser and quit it records.
type fakeApp struct {
	fyne.App
	backend *fakeBackend

	trayMenu      *fyne.Menu
	trayIcon      fyne.Resource
	notifications []*fyne.Notification
	opened        []string
	quit          bool
	stoppedFirst  bool // Backend.Stop had been called when Quit was
	windows       []*fakeWindow
}

var _ desktop.App = (*fakeApp)(nil)

func (a *fakeApp) SetSystemTrayMenu(m *fyne.Menu)    { a.trayMenu = m }
func (a *fakeApp) SetSystemTrayIcon(r fyne.Resource) { a.trayIcon = r }
func (a *fakeApp) SetSystemTrayWindow(fyne.Window)   {}
func (a *fakeApp) SendNotification(n *fyne.Notification) {
	a.notifications = append(a.notifications, n)
}

func (a *fakeApp) OpenURL(u *url.URL) error {
	a.opened = append(a.opened, u.String())
	return nil
}

func (a *fakeApp) Quit() {
	a.quit = true
	for _, c := range a.backend.Calls() {
		if c == "Stop" {
			a.stoppedFirst = true
		}
	}
}

func (a *fakeApp) NewWindow(title string) fyne.Window {
	w := &fakeWindow{Window: a.App.NewWindow(title)}
	a.windows = append(a.windows, w)
	return w
}

// fakeWindow records whether it is shown, and lets a test close it as a
// user would: through the close intercept when there is one.
type fakeWindow struct {
	fyne.Window
	shown     bool
	closed    bool
	intercept func()
}

func (w *fakeWindow) Show()                      { w.shown = true; w.Window.Show() }
func (w *fakeWindow) Hide()                      { w.shown = false; w.Window.Hide() }
func (w *fakeWindow) SetCloseIntercept(f func()) { w.intercept = f; w.Window.SetCloseIntercept(f) }

// userClose is the window manager's close button.
func (w *fakeWindow) userClose() {
	if w.intercept != nil {
		w.intercept()
		return
	}
	w.closed = true
	w.Window.Close()
}

// harness is an App on a fake app and backend.
type harness struct {
	t   *testing.T
	u   *App
	app *fakeApp
	b   *fakeBackend

	applied  chan struct{}
	followed chan struct{} // a settings change was shown
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	b := newFakeBackend()
	a := &fakeApp{App: test.NewTempApp(t), backend: b}
	h := &harness{t: t, app: a, b: b, applied: make(chan struct{}), followed: make(chan struct{})}
	h.u = New(a, b)
	h.u.savedFor = time.Hour // no timer fires while a test runs
	h.u.afterStatus = func() { h.applied <- struct{}{} }
	h.u.afterSettings = func() { h.followed <- struct{}{} }
	stop := h.u.Watch()
	t.Cleanup(func() {
		h.u.wait()
		stop()
	})
	return h
}

// withTray sets up the tray, as on a desktop with a D-Bus session.
func (h *harness) withTray() {
	h.t.Helper()
	h.t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus")
	h.u.SetupTray()
	if !h.u.HasTray() {
		h.t.Fatal("no tray")
	}
}

// changeOnDisk changes the settings as another program would change the
// file, and returns once the App has been told.
func (h *harness) changeOnDisk(edit func(*settings.Settings)) {
	h.t.Helper()
	h.b.mu.Lock()
	edit(&h.b.settings)
	h.b.mu.Unlock()
	h.b.onDisk <- h.b.Settings()
	<-h.followed
}

// push sends st through the subscription and returns once it is applied.
func (h *harness) push(st mirror.Status) {
	h.t.Helper()
	h.b.updates <- st
	<-h.applied
}

// open shows the settings window and waits for the account to load.
func (h *harness) open() *settingsForm {
	h.t.Helper()
	h.u.ShowSettings()
	h.u.wait()
	return h.u.form
}

// window returns the settings window's fake.
func (h *harness) window() *fakeWindow {
	h.t.Helper()
	if len(h.app.windows) != 1 {
		h.t.Fatalf("%d windows, want 1", len(h.app.windows))
	}
	return h.app.windows[0]
}

func (b *fakeBackend) CacheUsage() mirror.CacheUsage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usage
}

func (b *fakeBackend) VerifyCache(progress func(done, total int)) ([]string, error) {
	err := b.record("VerifyCache")
	for i := 1; i <= 3; i++ {
		progress(i, 3)
	}
	return b.corrupt, err
}

func (b *fakeBackend) ClearCache() error { return b.record("ClearCache") }

func (b *fakeBackend) ApplySetup(client string) (string, error) {
	err := b.record("ApplySetup " + client)
	if err != nil {
		return "run: sudo hubmirror setup " + client + " --apply", err
	}
	return "Configured " + client + ".", nil
}

func (b *fakeBackend) Prefetch(ref string, progress func(done, total int64)) error {
	err := b.record("Prefetch " + ref)
	progress(50, 100)
	progress(100, 100)
	return err
}

func (b *fakeBackend) About() AboutInfo {
	b.record("About")
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.about
}
