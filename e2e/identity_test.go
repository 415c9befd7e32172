package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/identity"
)

// TestWindowClass: the app's windows carry its ID as their X11 WM_CLASS
// instance name, which desktops match against the launcher's .desktop file
// (named after the ID by `fyne package`) to group windows with it.
func TestWindowClass(t *testing.T) {
	xdotool := need(t, "xdotool", "apt-get install xdotool")
	xprop := need(t, "xprop", "apt-get install x11-utils")
	display := startXvfb(t)
	bin := needDesktopBinary(t)
	env := quietEnv(t, "LANG=en_US.UTF-8", "DISPLAY="+display, "MESA_SHADER_CACHE_DISABLE=true")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, log, exited, window := startWindowed(t, ctx, xdotool, bin, env)
	prop := exec.Command(xprop, "-id", window, "WM_CLASS")
	prop.Env = env
	out, err := prop.CombinedOutput()
	if err != nil {
		t.Fatalf("xprop: %v\n%s", err, out)
	}
	// WM_CLASS(STRING) = "instance", "class"
	if want := `= "` + identity.AppID + `",`; !strings.Contains(string(out), want) {
		t.Errorf("window %s: %s; want the instance name %q", window, strings.TrimSpace(string(out)), identity.AppID)
	}
	move := exec.Command(xdotool, "mousemove", "1279", "799") // see TestQuietWindow
	move.Env = env
	_ = move.Run()
	_ = cmd.Process.Signal(os.Interrupt)
	if err := <-exited; err != nil {
		t.Errorf("exit after SIGINT: %v\n%s", err, log)
	}
}
