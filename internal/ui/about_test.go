package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

// menuItem returns the tray menu's item labelled label.
func (h *harness) menuItem(label string) *fyne.MenuItem {
	h.t.Helper()
	for _, it := range h.u.menu.Items {
		if it.Label == label {
			return it
		}
	}
	h.t.Fatalf("no menu item %q", label)
	return nil
}

// The About window, opened from the tray, shows the version, commit and
// paths the backend gives, and links to the landing page where the mirror
// listens.
func TestAboutShowsWhatTheBackendSays(t *testing.T) {
	h := newHarness(t)
	h.b.about = AboutInfo{
		Version: "1.2.3", Commit: "0123456789abcdef", Modified: true,
		SettingsFile: "/home/al/.config/hubmirror/settings.json",
		CacheDir:     "/home/al/.cache/hubmirror",
		LogFile:      "/home/al/.local/state/hubmirror/hubmirror.log",
	}
	h.push(mirror.Status{State: mirror.Running, Addr: "0.0.0.0:5001"})
	h.menuItem(labelAbout).Action()
	h.u.wait()
	v := h.u.about
	if v == nil || !v.win.(*fakeWindow).shown {
		t.Fatal("About window not shown")
	}
	for label, want := range map[string]string{
		"version":  "1.2.3",
		"commit":   "0123456789abcdef (modified)",
		"settings": h.b.about.SettingsFile,
		"cache":    h.b.about.CacheDir,
		"log":      h.b.about.LogFile,
	} {
		got := v.fields[label]
		if got == nil || got.Text != want {
			t.Errorf("%s shows %v, want %q", label, got, want)
		}
		if got != nil && label != "version" && !got.Selectable {
			t.Errorf("%s cannot be selected for copying", label)
		}
	}
	if v.link.URL == nil || v.link.URL.String() != "http://127.0.0.1:5001/" {
		t.Errorf("landing page link %v", v.link.URL)
	}
	v.link.OnTapped() // test.Tap misses the text of a link not laid out
	if !slices.Equal(h.app.opened, []string{"http://127.0.0.1:5001/"}) {
		t.Errorf("opened %q", h.app.opened)
	}
	if calls := h.b.Calls(); !slices.Contains(calls, "About") {
		t.Errorf("backend calls %q, want About", calls)
	}

	// Opened again, it is the same window, with what the backend says now.
	h.b.about.Commit = ""
	h.u.ShowAbout()
	h.u.wait()
	if h.u.about != v || len(h.app.windows) != 1 {
		t.Errorf("a second About window")
	}
	if got := v.fields["commit"].Text; got != "unknown" {
		t.Errorf("no commit shows %q, want unknown", got)
	}
}

// About's Show log button opens the log window.
func TestAboutOpensTheLog(t *testing.T) {
	h := newHarness(t)
	h.b.about = AboutInfo{Version: "1", LogFile: writeLog(t, 3)}
	h.u.ShowAbout()
	h.u.wait()
	test.Tap(h.u.about.showLog)
	h.u.wait()
	if h.u.logView == nil || !strings.HasSuffix(h.u.logView.text.Text, "line 2") {
		t.Fatalf("log window %+v", h.u.logView)
	}
}
