package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// Set up clients has an Apply button for the clients the app can
// configure itself; it runs the backend's ApplySetup off the UI thread and
// shows its report, and on failure the error with what to run.
func TestSetupApply(t *testing.T) {
	h := newHarness(t)
	h.u.ShowSetup()
	for _, c := range []string{"k3s", "kind", "pull"} {
		if h.u.setupApply[c] != nil {
			t.Errorf("%s has an Apply button; the app cannot configure it", c)
		}
	}
	test.Tap(h.u.setupApply["podman"])
	h.u.wait()
	got := h.u.setupApplied["podman"]
	if !slices.Contains(h.b.Calls(), "ApplySetup podman") || !got.Visible() || got.Text != "Configured podman." || got.Importance == widget.DangerImportance {
		t.Fatalf("calls %v, result %q (shown %v, importance %v)", h.b.Calls(), got.Text, got.Visible(), got.Importance)
	}
	h.b.mu.Lock()
	h.b.errs["ApplySetup"] = errors.New("cannot write /etc/docker/daemon.json: permission denied")
	h.b.mu.Unlock()
	test.Tap(h.u.setupApply["docker"])
	h.u.wait()
	got = h.u.setupApplied["docker"]
	if got.Importance != widget.DangerImportance || !strings.Contains(got.Text, "permission denied") || !strings.Contains(got.Text, "sudo hubmirror setup docker --apply") {
		t.Fatalf("failed Apply shows %q (importance %v): want the error and the sudo command, in red", got.Text, got.Importance)
	}
	if h.u.setupApply["docker"].Disabled() {
		t.Error("Apply stays disabled after it finished")
	}
}
