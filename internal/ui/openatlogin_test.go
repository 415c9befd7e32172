package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestOpenAtLoginSwitch: the window shows open_at_login and Save writes
// the switch's state.
func TestOpenAtLoginSwitch(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	if f.openAtLogin.Checked {
		t.Fatal("open at login is on, but the settings say off")
	}
	test.Tap(f.openAtLogin)
	test.Tap(f.save)
	h.u.wait()
	if len(h.b.saved) != 1 || !h.b.saved[0].OpenAtLogin {
		t.Fatalf("saved %+v, want open_at_login on", h.b.saved)
	}
}
