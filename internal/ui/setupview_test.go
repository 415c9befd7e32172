package ui

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
)

// mirrorsOf is daemon.json's registry-mirrors, failing the test when text
// is not one JSON document.
func mirrorsOf(t *testing.T, text string) []string {
	t.Helper()
	var cfg struct {
		Mirrors []string `json:"registry-mirrors"`
	}
	if err := json.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("not daemon.json: %v\n%s", err, text)
	}
	return cfg.Mirrors
}

// The tray's Copy Docker setup copies the Docker Desktop form on macOS and
// Windows and the Linux engine's elsewhere.
func TestDockerSetupForThisOS(t *testing.T) {
	for goos, want := range map[string]string{
		"darwin": "http://host.docker.internal:5000", "windows": "http://host.docker.internal:5000",
		"linux": "http://127.0.0.1:5000", "freebsd": "http://127.0.0.1:5000",
	} {
		sn, ok := dockerSetup(i18n.English, "127.0.0.1:5000", goos)
		if !ok || !slices.Equal(mirrorsOf(t, sn.Text), []string{want}) {
			t.Errorf("%s: %v %s", goos, ok, sn.Text)
		}
	}
}

// Copy Docker setup copies, then shows Set up clients on its Docker tab
// with a confirmation saying what was copied, which survives the window
// being shown again meanwhile (as the window process does after copying).
func TestCopyDockerSetupConfirms(t *testing.T) {
	h := newHarness(t)
	h.push(mirror.Status{State: mirror.Running, Addr: "0.0.0.0:5055"})
	h.u.ShowSetup()
	pane := h.u.setupWin.Content().(*setupPane)
	pane.tabs.SelectIndex(len(clientsetup.Clients) - 1) // not the Docker tab
	h.u.copyItem.Action()
	sn, _ := dockerSetup(i18n.English, "127.0.0.1:5055", "linux")
	if got := h.app.Clipboard().Content(); got != sn.Text {
		t.Errorf("copied %q, want %q", got, sn.Text)
	}
	h.u.ShowSetup() // as ShowWindow(WindowCopyDocker) does next
	pane = h.u.setupWin.Content().(*setupPane)
	if pane.tabs.Selected() != pane.tabOf["docker"] {
		t.Errorf("tab %q is selected, want Docker", pane.tabs.Selected().Text)
	}
	if !pane.noticeRow.Visible() || pane.notice.Text != "Copied the Docker setup for Docker Engine on Linux" {
		t.Errorf("notice %v %q", pane.noticeRow.Visible(), pane.notice.Text)
	}
}

// The confirmation goes after a few seconds, and does not come back when
// the window is shown again.
func TestCopyDockerSetupNoticeGoes(t *testing.T) {
	h := newHarness(t)
	h.u.savedFor = 50 * time.Millisecond
	queued := onTestThread(h)
	h.u.copyItem.Action()
	pane := h.u.setupWin.Content().(*setupPane)
	waitFor(t, queued, func() bool { return !pane.noticeRow.Visible() }, "the notice to go")
	h.u.ShowSetup()
	if pane := h.u.setupWin.Content().(*setupPane); pane.noticeRow.Visible() {
		t.Error("a gone notice came back when the window was shown again")
	}
}

// Each Copy button says "Copied" after a click, then "Copy" again.
func TestCopyButtonConfirms(t *testing.T) {
	h := newHarness(t)
	h.u.savedFor = 100 * time.Millisecond
	queued := onTestThread(h)
	h.u.ShowSetup()
	btn := h.u.setupCopy["podman"][0]
	test.Tap(btn)
	if btn.Text != "Copied" {
		t.Errorf("after a click the button says %q", btn.Text)
	}
	waitFor(t, queued, func() bool { return btn.Text == "Copy" }, `the button to say "Copy" again`)
}

// onTestThread makes h's App queue what it would run on the UI thread,
// for waitFor to run on the test's own goroutine, so that timers firing
// meanwhile do not race with the test's reads. Call it after the last
// push: status updates are then no longer applied.
func onTestThread(h *harness) chan func() {
	queued := make(chan func(), 64)
	h.u.do = func(fn func()) { queued <- fn }
	return queued
}

// waitFor runs what is queued for the UI thread until cond holds, for up
// to 5 s.
func waitFor(t *testing.T, queued chan func(), cond func() bool, what string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for !cond() {
		select {
		case fn := <-queued:
			fn()
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
