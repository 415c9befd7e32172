package ui

import (
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

const inUse = "address already in use: 127.0.0.1:5000 is taken by another program; choose another port with --listen (for example --listen 127.0.0.1:5001)"

// labels returns the tray menu's labels, separators left out.
func labels(m *fyne.Menu) []string {
	var out []string
	for _, it := range m.Items {
		if !it.IsSeparator {
			out = append(out, it.Label)
		}
	}
	return out
}

func TestSetupTray(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	if h.app.trayMenu != h.u.menu {
		t.Fatal("the tray menu was not set")
	}
	if h.app.trayIcon != iconStopped {
		t.Errorf("tray icon %v, want the stopped icon", h.app.trayIcon)
	}
	want := []string{"Stopped", "Start", "Status…", "Settings…", "Cache…", "Set up clients…", "Copy Docker setup", "Open in browser", "Show log", "About hubmirror", "Quit"}
	if got := labels(h.app.trayMenu); !slices.Equal(got, want) {
		t.Errorf("tray menu %q, want %q", got, want)
	}
	if !h.u.statusItem.Disabled {
		t.Error("the status line is enabled")
	}
	if !h.u.quitItem.IsQuit {
		t.Error("Quit is not marked IsQuit, so Fyne adds its own")
	}
}

func TestSetupTrayWithoutDBus(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("the tray needs no D-Bus here")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	h := newHarness(t)
	h.u.SetupTray()
	if h.u.HasTray() || h.app.trayMenu != nil {
		t.Error("the tray was set up without a D-Bus session")
	}
}

func TestTrayFollowsStatus(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	running := mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000", Counters: mirror.Counters{
		CacheBytes: 2_130_000_000, CacheHits: 91, CacheMisses: 9, DockerHubPullsLeft: -1,
	}}
	for _, tc := range []struct {
		name         string
		status       mirror.Status
		line, toggle string
		icon         fyne.Resource
	}{
		{"running", running, "Running on 127.0.0.1:5000 · 2.1 GB cached · 91% from cache", "Stop", iconRunning},
		{"no hits yet", mirror.Status{State: mirror.Running, Addr: "0.0.0.0:5001", Counters: mirror.Counters{CacheBytes: 999}},
			"Running on 0.0.0.0:5001 · 999 B cached", "Stop", iconRunning},
		{"problem", mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000", Counters: mirror.Counters{CacheBytes: 999,
			UpstreamProblem: "docker.io (https://registry-1.docker.io) cannot be reached; cached images still pull.\nThe cache's disk is full"}},
			"Running on 127.0.0.1:5000 · 999 B cached · Problem: docker.io (https://registry-1.docker.io) cannot be reached", "Stop", iconProblem},
		{"stopped", mirror.Status{State: mirror.Stopped}, "Stopped", "Start", iconStopped},
		{"stopped with a problem", mirror.Status{State: mirror.Stopped, Counters: mirror.Counters{UpstreamProblem: "x"}}, "Stopped", "Start", iconStopped},
		{"failed", mirror.Status{State: mirror.Failed, Err: inUse},
			"Failed: address already in use: 127.0.0.1:5000 is taken by another program", "Start", iconFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.push(tc.status)
			if got := h.u.statusItem.Label; got != tc.line {
				t.Errorf("status line %q, want %q", got, tc.line)
			}
			if got := h.u.toggleItem.Label; got != tc.toggle {
				t.Errorf("toggle %q, want %q", got, tc.toggle)
			}
			if h.app.trayIcon != tc.icon {
				t.Errorf("tray icon %s, want %s", h.app.trayIcon.Name(), tc.icon.Name())
			}
		})
	}
}

// A port taken by another program is told in the window's terms: the
// "Listen address" field, and AirPlay only where AirPlay is.
func TestPortTakenNamesTheSetting(t *testing.T) {
	h := newHarness(t)
	h.push(mirror.Status{State: mirror.Failed, Err: inUse, PortTaken: true, Listen: "127.0.0.1:5000"})
	msg := h.u.status.Err
	for _, want := range []string{"127.0.0.1:5000", "Listen address"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "--listen") {
		t.Errorf("message %q names the command line's flag", msg)
	}
	if airplay := strings.Contains(msg, "AirPlay"); airplay != (runtime.GOOS == "darwin") {
		t.Errorf("message %q: mentions AirPlay %v on %s", msg, airplay, runtime.GOOS)
	}
	if n := h.app.notifications; len(n) != 1 || n[0].Content != msg {
		t.Errorf("notifications %v, want one with %q", n, msg)
	}
	if got := h.u.statusItem.Label; !strings.HasPrefix(got, "Failed: 127.0.0.1:5000 is taken by another program") {
		t.Errorf("status line %q", got)
	}
}

// The tray item's tooltip is the status line.
func TestTrayTooltipIsStatusLine(t *testing.T) {
	h := newHarness(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus")
	m := &fakeTrayMenu{}
	h.u.SetupTrayMenu(m)
	tooltip := func() string {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.tooltip
	}
	if got := tooltip(); got != "hubmirror: Stopped" {
		t.Errorf("tooltip at start %q", got)
	}
	for _, st := range []mirror.Status{
		{State: mirror.Running, Addr: "127.0.0.1:5000", Counters: mirror.Counters{CacheBytes: 999}},
		{State: mirror.Running, Addr: "127.0.0.1:5000", Counters: mirror.Counters{CacheBytes: 999, UpstreamProblem: "docker.io answers 503; cached images still pull."}},
		{State: mirror.Failed, Err: inUse},
	} {
		h.push(st)
		if got, want := tooltip(), "hubmirror: "+h.u.statusItem.Label; got != want {
			t.Errorf("tooltip %q, want %q", got, want)
		}
	}
}

func TestFailureNotifiesOnce(t *testing.T) {
	h := newHarness(t)
	failed := mirror.Status{State: mirror.Failed, Err: inUse}
	h.push(failed)
	h.push(failed)
	if len(h.app.notifications) != 1 {
		t.Fatalf("%d notifications, want 1", len(h.app.notifications))
	}
	n := h.app.notifications[0]
	if n.Title != "hubmirror" || n.Content != inUse {
		t.Errorf("notification %q: %q, want the whole error, which says what to do", n.Title, n.Content)
	}
	h.push(mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"})
	h.push(failed)
	if len(h.app.notifications) != 2 {
		t.Errorf("%d notifications after failing again, want 2", len(h.app.notifications))
	}
}

func TestToggle(t *testing.T) {
	h := newHarness(t)
	h.u.toggleItem.Action()
	h.u.wait()
	h.push(mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"})
	h.u.toggleItem.Action()
	h.u.wait()
	if got, want := h.b.Calls(), []string{"Start", "Stop"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if h.u.toggleItem.Disabled {
		t.Error("the toggle stayed disabled")
	}
}

func TestStartError(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	h.b.errs["Start"] = errors.New(inUse)
	h.u.toggleItem.Action()
	h.u.wait()
	if !f.banner.Visible() || f.bannerText.Text != inUse {
		t.Errorf("banner %q (visible %v), want the start error", f.bannerText.Text, f.banner.Visible())
	}
	if len(h.app.notifications) != 1 || h.app.notifications[0].Content != inUse {
		t.Errorf("notifications %v, want one with the start error", h.app.notifications)
	}
	// The mirror then reports the same failure: no second notification.
	h.push(mirror.Status{State: mirror.Failed, Err: inUse})
	if len(h.app.notifications) != 1 {
		t.Errorf("%d notifications, want 1", len(h.app.notifications))
	}
	if f.bannerText.Text != inUse {
		t.Errorf("banner %q, want the error once", f.bannerText.Text)
	}

	delete(h.b.errs, "Start")
	h.u.toggleItem.Action()
	h.u.wait()
	h.push(mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"})
	if f.banner.Visible() {
		t.Errorf("banner %q still shown after a good start", f.bannerText.Text)
	}
}

func TestCopyDockerSetup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status mirror.Status
		listen string
		want   string
	}{
		{"running", mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"}, "127.0.0.1:5000", "http://127.0.0.1:5000"},
		{"wildcard", mirror.Status{State: mirror.Running, Addr: "0.0.0.0:5001"}, "0.0.0.0:5001", "http://127.0.0.1:5001"},
		{"ipv6 wildcard", mirror.Status{State: mirror.Running, Addr: "[::]:5002"}, ":5002", "http://127.0.0.1:5002"},
		{"stopped", mirror.Status{State: mirror.Stopped}, ":5003", "http://127.0.0.1:5003"},
		{"stopped on a host", mirror.Status{State: mirror.Stopped}, "192.168.1.2:5000", "http://192.168.1.2:5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.b.settings.Listen = tc.listen
			h.push(tc.status)
			h.u.copyItem.Action()
			got := h.app.Clipboard().Content()
			var conf map[string][]string
			if err := json.Unmarshal([]byte(got), &conf); err != nil {
				t.Fatalf("clipboard %q is not JSON: %v", got, err)
			}
			if m := conf["registry-mirrors"]; !slices.Equal(m, []string{tc.want}) {
				t.Errorf("clipboard %q, want registry-mirrors [%q]", got, tc.want)
			}
			// Docker takes plain http only from loopback without insecure-registries.
			wantInsecure := !strings.Contains(tc.want, "127.0.0.1")
			if insecure := conf["insecure-registries"]; wantInsecure != (len(insecure) == 1 && "http://"+insecure[0] == tc.want) || len(conf) != 1+len(insecure) {
				t.Errorf("clipboard %q: insecure-registries %v, want it %v", got, insecure, wantInsecure)
			}
			if !strings.Contains(got, "\n  \"registry-mirrors\"") {
				t.Errorf("clipboard %q is not pretty-printed", got)
			}
		})
	}
}

func TestOpenInBrowser(t *testing.T) {
	h := newHarness(t)
	h.push(mirror.Status{State: mirror.Running, Addr: "0.0.0.0:5000"})
	h.u.browserItem.Action()
	if want := []string{"http://127.0.0.1:5000/"}; !slices.Equal(h.app.opened, want) {
		t.Errorf("opened %q, want %q", h.app.opened, want)
	}
}

func TestSettingsItemShowsWindow(t *testing.T) {
	h := newHarness(t)
	h.u.settingsItem.Action()
	h.u.wait()
	if w := h.window(); !w.shown || w.Title() != "hubmirror settings" {
		t.Errorf("window %q shown %v, want hubmirror settings shown", w.Title(), w.shown)
	}
}

func TestQuitStopsFirst(t *testing.T) {
	h := newHarness(t)
	h.u.quitItem.Action()
	h.u.wait()
	if !h.app.quit || !h.app.stoppedFirst {
		t.Errorf("quit %v, stopped first %v; want both", h.app.quit, h.app.stoppedFirst)
	}
}

func TestNoTrayChangesAfterQuit(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	var applied atomic.Int32
	h.u.afterStatus = func() { applied.Add(1) }
	h.u.Quit()
	h.u.wait()
	running := mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"}
	h.b.updates <- running
	h.b.updates <- running // received once the first was handled
	if applied.Load() != 0 || h.app.trayIcon != iconStopped || h.u.toggleItem.Label != "Start" {
		t.Errorf("after Quit: %d statuses applied, toggle %q; the tray must be left alone", applied.Load(), h.u.toggleItem.Label)
	}
}

func TestWatchStop(t *testing.T) {
	b := newFakeBackend()
	u := New(&fakeApp{App: test.NewTempApp(t), backend: b}, b)
	stop := u.Watch()
	stop()
	stop() // twice is fine
	if !b.canceled {
		t.Error("the subscription was not canceled")
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 999: "999 B", 1000: "1.0 kB", 1500: "1.5 kB", 12_345: "12 kB", 999_499: "999 kB",
		999_500: "1.0 MB", 2_130_000_000: "2.1 GB", 45_600_000_000_000: "46 TB",
	} {
		if got := mirror.FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for _, tc := range []struct {
		hits, misses int64
		want         string
	}{{0, 0, ""}, {1, 0, "100%"}, {91, 9, "91%"}, {2, 1, "67%"}, {1, 199, "1%"}} {
		got, ok := hitRate(mirror.Counters{CacheHits: tc.hits, CacheMisses: tc.misses})
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("hitRate(%d, %d) = %q, %v; want %q", tc.hits, tc.misses, got, ok, tc.want)
		}
	}
	if got := shortReason("x" + strings.Repeat("y", 100)); len([]rune(got)) != maxReason {
		t.Errorf("shortReason kept %d characters, want %d", len([]rune(got)), maxReason)
	}
	if got := shortReason(""); got != "unknown error" {
		t.Errorf("shortReason(\"\") = %q", got)
	}
}

// An upstream problem shows in the banner and as one notification, and a
// new one after recovery notifies again.
func TestUpstreamProblemIsShown(t *testing.T) {
	h := newHarness(t)
	form := h.open()
	const down = "docker.io (https://registry-1.docker.io) cannot be reached; cached images still pull. Check the network or proxy settings."
	problem := mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000", Counters: mirror.Counters{UpstreamProblem: down}}
	h.push(problem)
	h.push(problem)
	if len(h.app.notifications) != 1 || h.app.notifications[0].Content != down {
		t.Fatalf("notifications %v, want one with the problem", h.app.notifications)
	}
	if !form.banner.Visible() || !strings.Contains(form.bannerText.Text, "cannot be reached") {
		t.Errorf("banner %v %q", form.banner.Visible(), form.bannerText.Text)
	}
	h.push(mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"})
	if form.banner.Visible() {
		t.Errorf("banner still shown after recovery: %q", form.bannerText.Text)
	}
	h.push(problem)
	if len(h.app.notifications) != 2 {
		t.Errorf("%d notifications after the problem came back, want 2", len(h.app.notifications))
	}
}

// The Setup window has a tab per client, and each Copy button puts that
// snippet, naming the mirror's address, on the clipboard.
func TestSetupWindow(t *testing.T) {
	h := newHarness(t)
	h.push(mirror.Status{State: mirror.Running, Addr: "0.0.0.0:5055"})
	h.u.setupItem.Action()
	if h.u.setupWin == nil {
		t.Fatal("no Setup window")
	}
	for _, client := range []string{"docker", "containerd", "podman", "k3s", "kind", "pull"} {
		buttons := h.u.setupCopy[client]
		if len(buttons) == 0 {
			t.Fatalf("no Copy button for %s", client)
		}
		test.Tap(buttons[0])
		got := h.app.Clipboard().Content()
		want := "127.0.0.1:5055"
		if client == "kind" { // the cluster config; the nodes' script names an address they reach
			want = "config_path"
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: copied %q, want %q", client, got, want)
		}
	}
	if n := len(h.u.setupCopy["containerd"]); n < 2 {
		t.Errorf("containerd has %d snippets, want one per registry", n)
	}
}

// The Cache window: usage, pins added (checked) and removed through the
// settings, Prepare for offline, Verify, and Clear after a confirmation.
func TestCacheWindow(t *testing.T) {
	h := newHarness(t)
	h.b.usage = mirror.CacheUsage{Bytes: 5e9, Limit: 20e9, Blobs: 42}
	h.u.cacheItem.Action()
	v := h.u.cache
	if v == nil || v.barText != "5.0 GB of 20 GB" || v.bar.Value != 0.25 {
		t.Fatalf("usage %q, bar %v", v.barText, v.bar.Value)
	}
	test.Type(v.newPin, "Not A Ref")
	test.Tap(v.addPin)
	if v.pinMsg.Text == "" || len(h.b.saved) != 0 {
		t.Errorf("a bad reference: message %q, saved %v", v.pinMsg.Text, h.b.saved)
	}
	v.newPin.SetText("alpine:3.20")
	test.Tap(v.addPin)
	h.u.wait()
	if n := len(h.b.saved); n != 1 || !slices.Equal(h.b.saved[0].Pinned, []string{"alpine:3.20"}) {
		t.Fatalf("saved %+v", h.b.saved)
	}
	h.b.settings.Pinned = []string{"alpine:3.20"}
	v.newPin.SetText("alpine:3.20")
	test.Tap(v.addPin)
	if !strings.Contains(v.pinMsg.Text, "already") {
		t.Errorf("duplicate pin: %q", v.pinMsg.Text)
	}
	// A pin added on disk meanwhile (hubmirror pin add) survives the next
	// pin added or removed in the window.
	h.b.mu.Lock()
	h.b.settings.Pinned = []string{"alpine:3.20", "busybox:1"}
	h.b.mu.Unlock()
	v.newPin.SetText("nginx:1")
	test.Tap(v.addPin)
	h.u.wait()
	if got := h.b.saved[len(h.b.saved)-1].Pinned; !slices.Equal(got, []string{"alpine:3.20", "busybox:1", "nginx:1"}) {
		t.Errorf("pins after an add with one added on disk: %v", got)
	}
	h.u.removePin("nginx:1")
	h.u.wait()
	if got := h.b.saved[len(h.b.saved)-1].Pinned; !slices.Equal(got, []string{"alpine:3.20", "busybox:1"}) {
		t.Errorf("pins after a remove: %v", got)
	}

	test.Tap(v.prepare)
	h.u.wait()
	if !slices.Contains(h.b.Calls(), "Prefetch alpine:3.20") || !strings.Contains(v.result.Text, "Ready for offline") || v.prepare.Disabled() {
		t.Errorf("prepare: calls %v, result %q", h.b.Calls(), v.result.Text)
	}
	h.b.corrupt = []string{"sha256:bad"}
	test.Tap(v.verify)
	h.u.wait()
	if !strings.Contains(v.result.Text, ": 1") {
		t.Errorf("verify result %q", v.result.Text)
	}
	var asked bool
	h.u.confirm = func(title, msg string, answer func(bool), _ fyne.Window) { asked = true; answer(false) }
	test.Tap(v.clear)
	h.u.wait()
	if !asked || slices.Contains(h.b.Calls(), "ClearCache") {
		t.Errorf("clear without yes: asked %v, calls %v", asked, h.b.Calls())
	}
	h.u.confirm = func(title, msg string, answer func(bool), _ fyne.Window) { answer(true) }
	test.Tap(v.clear)
	h.u.wait()
	if !slices.Contains(h.b.Calls(), "ClearCache") || !strings.Contains(v.result.Text, "empty") {
		t.Errorf("clear: calls %v, result %q", h.b.Calls(), v.result.Text)
	}
}

// fakeTrayMenu is a TrayMenu that records its entries and every change.
type fakeTrayMenu struct {
	mu      sync.Mutex
	entries []*fakeTrayEntry // in menu order, separators included
	items   []*fakeTrayEntry // by item index
	sets    []string         // "label" or "label (disabled)", per SetItem
	shown   int
	tooltip string
}

type fakeTrayEntry struct {
	label     string
	disabled  bool
	separator bool
	onClick   func()
}

func (m *fakeTrayMenu) AddItem(label string, disabled bool, onClick func()) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := &fakeTrayEntry{label: label, disabled: disabled, onClick: onClick}
	m.entries = append(m.entries, e)
	m.items = append(m.items, e)
	return len(m.items) - 1
}

func (m *fakeTrayMenu) AddSeparator() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, &fakeTrayEntry{separator: true})
}

func (m *fakeTrayMenu) SetItem(i int, label string, disabled bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[i].label, m.items[i].disabled = label, disabled
	if disabled {
		label += " (disabled)"
	}
	m.sets = append(m.sets, label)
}

func (m *fakeTrayMenu) SetTooltip(text string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tooltip = text
}

func (m *fakeTrayMenu) Show() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shown++
}

// labels returns the entries' labels, "|" for a separator and a "-"
// prefix for a disabled item, and the SetItem calls so far.
func (m *fakeTrayMenu) labels() (labels, sets []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		switch {
		case e.separator:
			labels = append(labels, "|")
		case e.disabled:
			labels = append(labels, "-"+e.label)
		default:
			labels = append(labels, e.label)
		}
	}
	return labels, append([]string(nil), m.sets...)
}

// click clicks the item labelled label, as the tray does: from a goroutine
// of its own.
func (m *fakeTrayMenu) click(t *testing.T, label string) {
	t.Helper()
	m.mu.Lock()
	var onClick func()
	for _, e := range m.items {
		if e.label == label {
			onClick = e.onClick
		}
	}
	m.mu.Unlock()
	if onClick == nil {
		t.Fatalf("no tray item %q", label)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		onClick()
	}()
	<-done
}

// TestTrayMenuChangesItemsInPlace: with a TrayMenu, the tray's items are
// added once and then changed in place as the status changes and the
// toggle runs, so they keep their identity (their D-Bus ids); Fyne's
// SetSystemTrayMenu, which rebuilds the menu on each change, is not used.
func TestTrayMenuChangesItemsInPlace(t *testing.T) {
	h := newHarness(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus")
	m := &fakeTrayMenu{}
	h.u.SetupTrayMenu(m)
	if !h.u.HasTray() || m.shown != 1 {
		t.Fatalf("tray %v, menu shown %d times; want a tray shown once", h.u.HasTray(), m.shown)
	}
	if h.app.trayMenu != nil {
		t.Error("the menu also went to Fyne's SetSystemTrayMenu")
	}
	if h.app.trayIcon != iconStopped {
		t.Errorf("tray icon %v, want the stopped icon", h.app.trayIcon)
	}
	rest := []string{"|", "Status…", "Settings…", "Cache…", "Set up clients…", "Copy Docker setup", "Open in browser", "|", "Show log", "About hubmirror", "|", "Quit"}
	check := func(what string, wantLabels, wantSets []string) {
		t.Helper()
		labels, sets := m.labels()
		if !slices.Equal(labels, wantLabels) {
			t.Errorf("%s: tray menu %q, want %q", what, labels, wantLabels)
		}
		if !slices.Equal(sets, wantSets) {
			t.Errorf("%s: item changes %q, want %q", what, sets, wantSets)
		}
	}
	var sets []string
	check("at start", append([]string{"-Stopped", "Start"}, rest...), sets)

	running := mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000", Counters: mirror.Counters{CacheBytes: 999}}
	h.push(running)
	sets = append(sets, "Running on 127.0.0.1:5000 · 999 B cached (disabled)", "Stop")
	check("running", append([]string{"-Running on 127.0.0.1:5000 · 999 B cached", "Stop"}, rest...), sets)

	running.CacheBytes, running.CacheHits, running.CacheMisses = 2_130_000_000, 1, 1
	h.push(running)
	sets = append(sets, "Running on 127.0.0.1:5000 · 2.1 GB cached · 50% from cache (disabled)")
	check("counters", append([]string{"-Running on 127.0.0.1:5000 · 2.1 GB cached · 50% from cache", "Stop"}, rest...), sets)
	h.push(running) // no change, no update
	check("the same status again", append([]string{"-Running on 127.0.0.1:5000 · 2.1 GB cached · 50% from cache", "Stop"}, rest...), sets)

	m.click(t, "Stop")
	h.u.wait()
	if got := h.b.Calls(); !slices.Equal(got, []string{"Stop"}) {
		t.Errorf("calls %q after clicking Stop, want [Stop]", got)
	}
	sets = append(sets, "Stop (disabled)", "Stop")
	h.push(mirror.Status{State: mirror.Stopped})
	sets = append(sets, "Stopped (disabled)", "Start")
	check("stopped", append([]string{"-Stopped", "Start"}, rest...), sets)

	m.click(t, "Settings…")
	h.u.wait()
	if w := h.window(); !w.shown {
		t.Error("clicking Settings… did not show the settings window")
	}
}
