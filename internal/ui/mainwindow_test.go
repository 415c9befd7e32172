package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

// mainButton returns the main window's button labelled label.
func (h *harness) mainButton(label string) *widget.Button {
	h.t.Helper()
	for _, b := range h.u.main.buttons {
		if b.Text == label {
			return b
		}
	}
	h.t.Fatalf("the main window has no button %q", label)
	return nil
}

// mainWin is the main window as the fake app made it.
func (h *harness) mainWin() *fakeWindow {
	h.t.Helper()
	for _, w := range h.app.windows {
		if w.Window == h.u.main.win || fyne.Window(w) == h.u.main.win {
			return w
		}
	}
	h.t.Fatal("the main window is not the fake app's")
	return nil
}

// Without a tray host the main window offers what the tray menu offers,
// and a notification says once how to get a tray icon.
func TestMainWindowWithoutTray(t *testing.T) {
	h := newHarness(t)
	h.u.ShowWithoutTray()
	h.u.ShowWithoutTray() // a second call shows it again, without a second notification
	w := h.mainWin()
	if !w.shown || w.Title() != "hubmirror" {
		t.Fatalf("main window shown %v, title %q", w.shown, w.Title())
	}
	if n := len(h.app.notifications); n != 1 || !strings.Contains(h.app.notifications[0].Content, "AppIndicator and KStatusNotifierItem Support") {
		t.Fatalf("notifications %d, want one naming the GNOME extension: %v", n, h.app.notifications)
	}
	var labels []string
	for _, b := range h.u.main.buttons {
		labels = append(labels, b.Text)
	}
	var want []string // the tray menu's actions, in its order
	for _, it := range h.u.menu.Items {
		if !it.IsSeparator && it != h.u.statusItem && it != h.u.statusWinItem {
			want = append(want, it.Label)
		}
	}
	if !slices.Equal(labels, want) {
		t.Errorf("buttons %q, want the tray menu's %q", labels, want)
	}
	for _, label := range []string{"Start", "Settings…", "Cache…", "Set up clients…", "Copy Docker setup", "Open in browser", "Quit"} {
		if !slices.Contains(labels, label) {
			t.Errorf("no button %q", label)
		}
	}
	if labels[0] != "Start" || labels[len(labels)-1] != "Quit" {
		t.Errorf("Start/Stop must come first and Quit last (the keys the end-to-end test uses): %q", labels)
	}
	if h.u.main.status.Text != "Stopped" {
		t.Errorf("status line %q, want Stopped", h.u.main.status.Text)
	}

	test.Tap(h.mainButton("Start"))
	h.u.wait()
	if calls := h.b.Calls(); !slices.Contains(calls, "Start") {
		t.Errorf("Start did not start the mirror: %v", calls)
	}
	h.push(mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"})
	if got := h.u.main.status.Text; !strings.HasPrefix(got, "Running on 127.0.0.1:5000") {
		t.Errorf("status line after Running: %q", got)
	}
	test.Tap(h.mainButton("Stop"))
	h.u.wait()
	if calls := h.b.Calls(); !slices.Contains(calls, "Stop") {
		t.Errorf("Stop did not stop the mirror: %v", calls)
	}

	test.Tap(h.mainButton("Open in browser"))
	if !slices.Contains(h.app.opened, "http://127.0.0.1:5000/") {
		t.Errorf("opened %v", h.app.opened)
	}
	test.Tap(h.mainButton("Settings…"))
	if h.u.form == nil || !h.u.form.visible {
		t.Fatal("Settings… did not show the settings window")
	}
	// Closing the settings window leaves the app running: the main
	// window stands in for the tray.
	for _, fw := range h.app.windows {
		if fw.Window == h.u.form.win || fyne.Window(fw) == h.u.form.win {
			fw.userClose()
		}
	}
	h.u.wait()
	if h.app.quit {
		t.Error("closing the settings window quit the app while the main window is open")
	}
}

// Closing the main window asks whether to quit or keep running.
func TestMainWindowCloseAsks(t *testing.T) {
	h := newHarness(t)
	h.u.ShowWithoutTray()
	asked := 0
	var answer func(bool)
	h.u.main.ask = func(parent fyne.Window, a func(quit bool)) { asked++; answer = a }
	w := h.mainWin()

	w.userClose()
	if asked != 1 || w.closed {
		t.Fatalf("close asked %d times, window destroyed %v", asked, w.closed)
	}
	answer(false) // keep running
	if w.shown || h.app.quit {
		t.Errorf("keep running: window shown %v, quit %v", w.shown, h.app.quit)
	}
	h.u.ShowMain()
	w.userClose()
	answer(true)
	h.u.wait()
	if asked != 2 || !h.app.quit || !h.app.stoppedFirst || w.shown {
		t.Errorf("quit: asked %d, quit %v, stopped first %v, window shown %v", asked, h.app.quit, h.app.stoppedFirst, w.shown)
	}
}

// The Quit button hides the window, stops the mirror and quits.
func TestMainWindowQuit(t *testing.T) {
	h := newHarness(t)
	h.u.ShowMain()
	test.Tap(h.mainButton("Quit"))
	h.u.wait()
	if !h.app.quit || !h.app.stoppedFirst || h.mainWin().shown {
		t.Errorf("quit %v, stopped first %v, window shown %v", h.app.quit, h.app.stoppedFirst, h.mainWin().shown)
	}
	if len(h.app.notifications) != 0 {
		t.Errorf("ShowMain sent a notification: %v", h.app.notifications)
	}
}

// The live figures are in the main window, not in Settings.
func TestMainWindowFigures(t *testing.T) {
	h := newHarness(t)
	h.u.ShowMain()
	m := h.u.main
	if m.pullsLeft.Text != "unknown" || m.requests.Text != "0" {
		t.Errorf("stopped: pulls left %q, requests %q", m.pullsLeft.Text, m.requests.Text)
	}
	h.open() // app.go updates the figures with the settings window built
	h.push(mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000", Counters: mirror.Counters{
		Requests: 12, BytesFromCache: 3_400_000, BytesFromUpstream: 1_200_000_000, DownloadsInFlight: 2,
		CacheBytes: 5_000_000_000, CacheHits: 3, CacheMisses: 1, DockerHubPullsLeft: 87,
	}})
	for _, c := range []struct{ got, want string }{
		{m.requests.Text, "12"},
		{m.fromCache.Text, "3.4 MB"},
		{m.fromUpstream.Text, "1.2 GB"},
		{m.inFlight.Text, "2"},
		{m.cached.Text, "5.0 GB on disk · 75% of requests served from it"},
		{m.pullsLeft.Text, "87"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !strings.HasPrefix(m.status.Text, "Running on 127.0.0.1:5000") {
		t.Errorf("status line %q", m.status.Text)
	}
}

// With a tray to come back through, closing the main window just hides
// it: no question, no quit.
func TestMainWindowCloseWithTrayHides(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	h.u.ShowMain()
	asked := false
	h.u.main.ask = func(fyne.Window, func(bool)) { asked = true }
	w := h.mainWin()
	w.userClose()
	h.u.wait()
	if asked || w.shown || w.closed || h.app.quit {
		t.Errorf("asked %v, shown %v, destroyed %v, quit %v; want hidden only", asked, w.shown, w.closed, h.app.quit)
	}
}
