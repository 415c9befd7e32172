package ui

import (
	"slices"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

// recordingOpener is a WindowOpener that records what it was asked for.
type recordingOpener struct {
	mu     sync.Mutex
	opened []string
}

func (o *recordingOpener) Open(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opened = append(o.opened, name)
}

func (o *recordingOpener) names() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.opened)
}

// In the tray process every window, the tray's and the main window's,
// opens in the window process: none is built here, and no GL window
// exists in a process that only sits in the tray.
func TestTrayProcessOpensWindowsElsewhere(t *testing.T) {
	h := newHarness(t)
	o := &recordingOpener{}
	h.u.WindowsElsewhere(o)
	h.withTray()
	for _, label := range []string{labelSettings, labelCache, labelSetup, labelCopy, labelLog, labelAbout} {
		h.menuItem(tr(label)).Action()
	}
	want := []string{WindowSettings, WindowCache, WindowSetup, WindowCopyDocker, WindowLog, WindowAbout}
	if got := o.names(); !slices.Equal(got, want) {
		t.Fatalf("opened %v, want %v", got, want)
	}
	if len(h.app.windows) != 0 {
		t.Fatalf("the tray process built %d windows, want none", len(h.app.windows))
	}
	if got := h.app.Clipboard().Content(); got != "" {
		t.Fatalf("the tray process put %q on the clipboard; the window process copies", got)
	}
	// A later launch brings Settings forward, until the main window
	// stands in for the tray: then the main window, with one notification.
	h.u.ShowFront()
	h.u.ShowWithoutTray()
	h.u.ShowFront()
	want = append(want, WindowSettings, WindowMain, WindowMain)
	if got := o.names(); !slices.Equal(got, want) {
		t.Fatalf("opened %v, want %v", got, want)
	}
	if len(h.app.notifications) != 1 {
		t.Fatalf("%d notifications, want the one on how to get a tray icon", len(h.app.notifications))
	}
}

// The tray process's updates run on its own goroutine: with no Fyne loop
// here, a status change still reaches the tray.
func TestTrayProcessAppliesStatusWithoutFyneLoop(t *testing.T) {
	h := newHarness(t)
	h.u.WindowsElsewhere(&recordingOpener{})
	h.withTray()
	h.push(mirror.Status{State: mirror.Running, Addr: "127.0.0.1:5000"})
	done := make(chan struct{})
	h.u.Do(func() { close(done) }) // after the status, in order
	<-done
	if h.u.statusItem.Label == tr("Stopped") || h.app.trayIcon != iconRunning {
		t.Fatalf("status line %q, icon %v: the update was not applied", h.u.statusItem.Label, h.app.trayIcon)
	}
}

// In the window process idle is called when the last open window closes,
// not before; and failures send no notification there (the tray process
// sends them).
func TestWindowProcessIdleWhenLastWindowCloses(t *testing.T) {
	h := newHarness(t)
	idle := 0
	h.u.TrayElsewhere(true, func() { idle++ })
	h.u.ShowWindow(WindowCache)
	h.u.ShowWindow(WindowAbout)
	h.u.wait()
	if len(h.app.windows) != 2 {
		t.Fatalf("%d windows, want 2", len(h.app.windows))
	}
	h.app.windows[0].userClose()
	if idle != 0 {
		t.Fatal("idle with a window still open")
	}
	h.app.windows[0].userClose() // a second close of a hidden window changes nothing
	h.app.windows[1].userClose()
	if idle != 1 {
		t.Fatalf("idle called %d times after the last window closed, want 1", idle)
	}
	h.u.ShowWindow(WindowSettings)
	h.u.wait()
	h.u.closeSettings() // with a tray shown elsewhere, closing Settings does not quit
	if idle != 2 || h.app.quit || slices.Contains(h.b.Calls(), "Stop") {
		t.Fatalf("idle %d, quit %v, calls %v: want idle once more and no quit", idle, h.app.quit, h.b.Calls())
	}
	h.push(mirror.Status{State: mirror.Failed, Err: "boom"})
	h.push(mirror.Status{State: mirror.Running, Counters: mirror.Counters{UpstreamProblem: "registry-1.docker.io is unreachable"}})
	if len(h.app.notifications) != 0 {
		t.Fatalf("the window process sent notifications: %v", h.app.notifications)
	}
	h.u.ShowWindow("nonsense")
	if idle != 3 {
		t.Fatalf("an unknown window with none open: idle %d, want 3", idle)
	}
}

// copy-docker in the window process copies the Docker setup and shows the
// Set up clients window, which keeps the clipboard's owner alive.
func TestWindowProcessCopiesDockerSetup(t *testing.T) {
	h := newHarness(t)
	h.u.TrayElsewhere(true, func() {})
	h.u.ShowWindow(WindowCopyDocker)
	if got := h.app.Clipboard().Content(); got == "" {
		t.Fatal("nothing was copied")
	}
	if len(h.app.windows) != 1 || !h.app.windows[0].shown {
		t.Fatal("the Set up clients window is not shown")
	}
}
