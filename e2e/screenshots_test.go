package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestWindowScreenshots opens each of the desktop app's windows from the
// tray, in English and in Simplified Chinese, on the light and the dark
// theme, and saves a PNG of each window to $HUBMIRROR_SCREENSHOTS (the
// README's pictures in docs/ come from it). It checks each window maps and
// is not blank. Without HUBMIRROR_SCREENSHOTS it is skipped: it makes
// pictures for people to look at, and takes about a minute.
func TestWindowScreenshots(t *testing.T) {
	out := os.Getenv("HUBMIRROR_SCREENSHOTS")
	if out == "" {
		t.Skip("set HUBMIRROR_SCREENSHOTS=DIR to write the windows' screenshots there")
	}
	xdotool := need(t, "xdotool", "apt-get install xdotool")
	busctl := need(t, "busctl", "apt-get install systemd")
	importBin := need(t, "import", "apt-get install imagemagick")
	bin := needDesktopBinary(t)
	wmclose := buildWMClose(t)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	windows := []struct{ item, file string }{
		{"Settings…", "settings"}, {"Cache…", "cache"}, {"Set up clients…", "setup"},
		{"About hubmirror", "about"}, {"Show log", "log"},
	}
	for _, lang := range []struct {
		locale string
		l      i18n.Lang
	}{{"en_US.UTF-8", i18n.English}, {"zh_CN.UTF-8", i18n.Chinese}} {
		for _, variant := range []string{"light", "dark"} {
			t.Run(string(lang.l)+"-"+variant, func(t *testing.T) {
				display := startXvfb(t)
				bus := startBus(t)
				w := startWatcher(t, bus)
				hub := fakehub.New()
				t.Cleanup(hub.Close)
				img := hub.AddImage("library/alpine", "3.20", []byte("alpine rootfs"))
				addr := freeAddr(t)
				t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus) // for busctl
				env := desktopEnv(t, display, bus)
				env = append(env, "LANG="+lang.locale, "LANGUAGE=", "FYNE_THEME="+variant)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd, log, _ := startApp(t, ctx, bin, env, addr, hub.URL())
				defer func() {
					if t.Failed() {
						t.Logf("app log:\n%s", log)
					}
				}()
				select {
				case <-w.items:
				case <-ctx.Done():
					t.Fatal("the tray item did not register")
				}
				testutil.Eventually(t, "the mirror to listen", func() bool { return portOpen(addr) })
				// Some figures to show: one pull through the mirror.
				for _, b := range append([]fakehub.Blob{img.Config}, img.Layers...) {
					if err := fetchMirrorBlob(ctx, http.DefaultClient, addr, img.Repo, b.Digest, int64(len(b.Data))); err != nil {
						t.Fatal(err)
					}
				}
				menu := &trayMenu{t: t, busctl: busctl, name: fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", cmd.Process.Pid), log: log}
				for _, win := range windows {
					menu.click(lang.l.T(win.item))
					var id string
					testutil.Eventually(t, "the "+win.file+" window to be mapped", func() bool {
						ids := visibleClassWindows(t, xdotool, display)
						if len(ids) == 1 {
							id = ids[0]
						}
						return id != ""
					})
					time.Sleep(700 * time.Millisecond) // drawn, not just mapped
					dst := filepath.Join(out, fmt.Sprintf("%s-%s-%s.png", win.file, lang.l, variant))
					if b, err := exec.Command(importBin, "-display", display, "-window", id, dst).CombinedOutput(); err != nil {
						t.Fatalf("import: %v %s", err, b)
					}
					if n := colours(t, dst); n < 3 {
						t.Errorf("%s looks blank (%d colours)", dst, n)
					}
					closeCmd := exec.Command(wmclose, id)
					closeCmd.Env = append(os.Environ(), "DISPLAY="+display)
					if b, err := closeCmd.CombinedOutput(); err != nil {
						t.Fatalf("wmclose: %v %s", err, b)
					}
					testutil.Eventually(t, "the "+win.file+" window to close", func() bool {
						return len(visibleClassWindows(t, xdotool, display)) == 0
					})
				}
				menu.click(lang.l.T("Quit"))
			})
		}
	}
}

// visibleClassWindows returns the ids of the app's mapped windows (its
// WM_CLASS instance is the app ID).
func visibleClassWindows(t *testing.T, xdotool, display string) []string {
	t.Helper()
	cmd := exec.Command(xdotool, "search", "--onlyvisible", "--classname", "io.github.hubmirror")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	b, _ := cmd.Output()
	return strings.Fields(string(b))
}
