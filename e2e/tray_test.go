package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/png" // screenshots
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// desktopBinary builds hubmirror with the desktop app (cgo and Fyne),
// once; the other tests use the nogui build.
var desktopBinary = sync.OnceValues(func() (string, error) {
	bin, out, err := buildMirror(workDir, "hubmirror-desktop")
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	return bin, nil
})

// needDesktopBinary is desktopBinary for a test, which fails when the
// desktop app does not build.
func needDesktopBinary(t *testing.T) string {
	t.Helper()
	bin, err := desktopBinary()
	if err != nil {
		t.Fatalf("building the desktop app: %v", err)
	}
	return bin
}

// need returns the path of a command, failing under HUBMIRROR_E2E=1 and
// skipping otherwise when it is missing.
func need(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if e2eRequired() {
		t.Fatalf("%s is missing: %s", name, install)
	}
	t.Skipf("%s is missing: %s; %s", name, install, e2eHint)
	return ""
}

// startXvfb starts a virtual X display and returns its name (":N").
func startXvfb(t *testing.T) string {
	t.Helper()
	bin := need(t, "Xvfb", "apt-get install xvfb (scripts/deps.sh --test)")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// -noreset: an X server resets when its last client disconnects, and
	// a client connecting during the reset fails ("Failed to open
	// display"); xdotool's short connections made that happen under load.
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = childProcAttr()
	errPath := filepath.Join(t.TempDir(), "xvfb.log")
	stderr, err := os.Create(errPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		if t.Failed() {
			alive := cmd.Process.Signal(syscall.Signal(0)) == nil
			said, _ := os.ReadFile(errPath)
			t.Logf("Xvfb (still running: %v) said:\n%s", alive, said)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
		r.Close()
	}()
	select {
	case n := <-line:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb gave no display number: %q", n)
		}
		// Wait until the display takes connections.
		testutil.Eventually(t, "Xvfb on :"+n+" to take connections", func() bool {
			c, err := net.Dial("unix", "/tmp/.X11-unix/X"+n)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		return ":" + n
	case <-time.After(20 * time.Second):
		t.Fatal("Xvfb did not start")
		return ""
	}
}

// trayMenu talks to the app's StatusNotifierItem menu over D-Bus.
type trayMenu struct {
	t      *testing.T
	busctl string
	name   string   // org.kde.StatusNotifierItem-<pid>-1
	log    *logTail // the app's log, where systray reports an unknown id
}

func (m *trayMenu) call(args ...string) []byte {
	m.t.Helper()
	out, err := m.try(args...)
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

// try is call that returns the error.
func (m *trayMenu) try(args ...string) ([]byte, error) {
	out, err := exec.Command(m.busctl, append([]string{"--user"}, args...)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("busctl %v: %w\n%s", args, err, out)
	}
	return out, nil
}

// items returns the menu's labels and their ids, from GetLayout.
func (m *trayMenu) items() map[string]int {
	m.t.Helper()
	items, err := m.layout()
	if err != nil {
		m.t.Fatal(err)
	}
	return items
}

// layout is items that returns the error.
func (m *trayMenu) layout() (map[string]int, error) {
	out, err := m.try("--json=short", "call", m.name, "/StatusNotifierMenu", "com.canonical.dbusmenu",
		"GetLayout", "iias", "--", "0", "-1", "0")
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("GetLayout: %w: %s", err, out)
	}
	items := map[string]int{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			if len(x) == 3 {
				if id, ok := x[0].(float64); ok {
					if props, ok := x[1].(map[string]any); ok {
						if label, ok := props["label"].(map[string]any); ok {
							if s, ok := label["data"].(string); ok {
								items[s] = int(id)
							}
						}
					}
				}
			}
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	return items, nil
}

// find returns the id of the item whose label starts with prefix.
func (m *trayMenu) find(prefix string) (string, int, bool) {
	for label, id := range m.items() {
		if strings.HasPrefix(label, prefix) {
			return label, id, true
		}
	}
	return "", 0, false
}

// click sends a "clicked" event to the item labelled prefix…, looked up
// right before. The app keeps its items' ids, but the test does not rely
// on it: systray answers a click on an unknown id with success and only
// logs it, so when the id is gone from the menu after the click and the
// app logged it as unknown, the item is looked up and clicked again. (Ids
// are never reused, so an id still in the menu after the click was live
// when it was clicked.)
func (m *trayMenu) click(prefix string) {
	m.t.Helper()
	for attempt := 1; ; attempt++ {
		var label string
		var id int
		testutil.Eventually(m.t, fmt.Sprintf("a tray item %q", prefix), func() bool {
			var ok bool
			label, id, ok = m.find(prefix)
			return ok
		})
		m.t.Logf("clicking %q (id %d)", label, id)
		m.call("call", m.name, "/StatusNotifierMenu", "com.canonical.dbusmenu", "Event", "isvu",
			strconv.Itoa(id), "clicked", "s", "", "0")
		if m.hasID(id) || !m.unknownIDLogged(id) {
			return
		}
		if attempt == 5 {
			m.t.Fatalf("the app did not know the id of %q %d times in a row", prefix, attempt)
		}
		m.t.Logf("the app did not know id %d any more: looking %q up again", id, prefix)
	}
}

// hasID reports whether an item of the menu has the id, or the menu is
// gone: after Quit the app is.
func (m *trayMenu) hasID(id int) bool {
	items, err := m.layout()
	if err != nil {
		return true
	}
	for _, have := range items {
		if have == id {
			return true
		}
	}
	return false
}

// unknownIDLogged reports whether the app logged a click on id as one on
// an unknown item. systray logs it before it answers the click, but the
// line reaches the log tail through a pipe, so it is given a moment.
func (m *trayMenu) unknownIDLogged(id int) bool {
	line := fmt.Sprintf("systray error: no menu item with ID %d\n", id)
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(m.log.String(), line) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestTrayApp runs the desktop app under Xvfb in a D-Bus session with a
// real keyring, the way a person uses it: Stop and Start from the tray
// menu, a pull through it, the settings window (a screenshot), and Quit.
func TestTrayApp(t *testing.T) {
	keyringSession(t)
	busctl := need(t, "busctl", "apt-get install systemd")
	importBin := need(t, "import", "apt-get install imagemagick")
	display := startXvfb(t)
	bin := needDesktopBinary(t)

	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := hub.AddImage("library/alpine", "3.20", fakehub.Layer(map[string]string{"etc/alpine-release": "3.20.0\n"}))
	addr := freeAddr(t)
	env := append(isolatedEnv(t), "DISPLAY="+display, "MESA_SHADER_CACHE_DISABLE=true", "LANG=en_US.UTF-8")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, log, exited := startApp(t, ctx, bin, env, addr, hub.URL())
	defer func() {
		if t.Failed() {
			t.Logf("app log:\n%s", log)
		}
	}()

	menu := &trayMenu{t: t, busctl: busctl, name: fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", cmd.Process.Pid), log: log}
	testutil.Eventually(t, "the tray item on D-Bus", func() bool {
		out, _ := exec.Command(busctl, "--user", "list", "--no-legend").Output()
		return strings.Contains(string(out), menu.name)
	})
	testutil.Eventually(t, "the mirror to start (start_on_launch)", func() bool { return portOpen(addr) })
	testutil.Eventually(t, "the status line to say Running", func() bool {
		_, _, ok := menu.find("Running on " + addr)
		return ok
	})

	menu.click("Stop")
	testutil.Eventually(t, "the port to close after Stop", func() bool { return !portOpen(addr) })
	testutil.Eventually(t, "the menu to offer Start", func() bool { _, _, ok := menu.find("Start"); return ok })

	menu.click("Start")
	testutil.Eventually(t, "the port to open after Start", func() bool { return portOpen(addr) })
	resp, err := http.Get("http://" + addr + "/v2/library/alpine/manifests/3.20")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != img.Digest {
		t.Fatalf("pull after Start: %d %s", resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
	}

	menu.click("Settings")
	shot := filepath.Join(t.TempDir(), "settings.png")
	testutil.Eventually(t, "a screenshot showing the settings window", func() bool {
		out, err := exec.Command(importBin, "-display", display, "-window", "root", shot).CombinedOutput()
		if err != nil {
			t.Logf("import: %v %s", err, out)
			return false
		}
		return colours(t, shot) > 20
	})
	if dst := os.Getenv("HUBMIRROR_SCREENSHOT"); dst != "" {
		raw, _ := os.ReadFile(shot)
		if err := os.WriteFile(dst, raw, 0o644); err != nil {
			t.Error(err)
		}
	}

	menu.click("Quit")
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the app exited with %v after Quit, want 0", err)
		}
	case <-ctx.Done():
		t.Fatal("the app did not exit after Quit")
	}
	if portOpen(addr) {
		t.Errorf("the mirror still listens after Quit")
	}
}

// startApp starts `hubmirror` (the desktop app) on addr with a fresh
// settings file and cache in front of upstream. exited receives Wait's
// result.
func startApp(t *testing.T, ctx context.Context, bin string, env []string, addr, upstream string) (*exec.Cmd, *logTail, <-chan error) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--listen", addr, "--config", filepath.Join(dir, "settings.json"),
		"--cache-dir", filepath.Join(dir, "cache"), "--upstream", "docker.io="+upstream)
	cmd.Env = env
	log := newLogTail(logTailLines)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, log, exited
}

// colours counts distinct colours in a PNG (a blank screen has one).
func colours(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return 0
	}
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r, g, bl}] = true
		}
	}
	return len(seen)
}

// TestDesktopAppWithoutDisplay: `hubmirror` with no display says so and
// runs headless, and stops cleanly on SIGTERM.
func TestDesktopAppWithoutDisplay(t *testing.T) {
	bin := needDesktopBinary(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	var env []string
	for _, kv := range isolatedEnv(t) {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") {
			env = append(env, kv)
		}
	}
	cmd, log, exited := startApp(t, context.Background(), bin, env, "127.0.0.1:0", hub.URL())
	select {
	case <-log.addr:
	case err := <-exited:
		t.Fatalf("exited before listening: %v\n%s", err, log)
	case <-time.After(30 * time.Second):
		t.Fatalf("did not start headless:\n%s", log)
	}
	if !strings.Contains(log.String(), "no display") || !strings.Contains(log.String(), "running headless") {
		t.Errorf("it does not say it runs headless for want of a display:\n%s", log)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("did not stop on SIGINT")
	}
}
