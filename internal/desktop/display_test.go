package desktop

import (
	"runtime"
	"strings"
	"testing"
)

// Without DISPLAY and WAYLAND_DISPLAY there is no window to show on Linux;
// with one, only a nogui build has none.
func TestNoDisplay(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the display variables are read on Linux and the other Unixes only")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if why := NoDisplay(); !strings.Contains(why, "no display") {
		t.Errorf("no display variable: NoDisplay() = %q", why)
	}
	t.Setenv("WAYLAND_DISPLAY", "wayland-0")
	why := NoDisplay()
	if Built && why != "" || !Built && !strings.Contains(why, "nogui") {
		t.Errorf("WAYLAND_DISPLAY set, Built %v: NoDisplay() = %q", Built, why)
	}
}
