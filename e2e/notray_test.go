package e2e

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// startBus starts a private D-Bus session bus, with no tray host on it
// (as dbus-run-session, or stock GNOME), and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	bin := need(t, "dbus-daemon", "apt-get install dbus")
	cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return addr
	case <-time.After(20 * time.Second):
		t.Fatal("dbus-daemon did not start")
		return ""
	}
}

// desktopEnv is the app's environment on display and bus.
func desktopEnv(t *testing.T, display, bus string) []string {
	var env []string
	for _, kv := range isolatedEnv(t) {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	return append(env, "DISPLAY="+display, "DBUS_SESSION_BUS_ADDRESS="+bus,
		"MESA_SHADER_CACHE_DISABLE=true", "LANG=en_US.UTF-8")
}

// freeAddr is a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// visibleWindows returns the ids of the mapped windows titled exactly name.
func visibleWindows(t *testing.T, xdotool, display, name string) []string {
	t.Helper()
	cmd := exec.Command(xdotool, "search", "--onlyvisible", "--name", "^"+name+"$")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, _ := cmd.Output() // exit 1 when none
	return strings.Fields(string(out))
}

// xdo runs xdotool on display.
func xdo(t *testing.T, xdotool, display string, args ...string) string {
	t.Helper()
	cmd := exec.Command(xdotool, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("xdotool %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestNoTrayHostOpensWindow: on a session bus with no tray host, the app
// opens its main window, whose Start/Stop works and whose Quit exits 0.
func TestNoTrayHostOpensWindow(t *testing.T) {
	xdotool := need(t, "xdotool", "apt-get install xdotool")
	importBin := need(t, "import", "apt-get install imagemagick")
	display := startXvfb(t)
	bus := startBus(t)
	bin := needDesktopBinary(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	addr := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, log, exited := startApp(t, ctx, bin, desktopEnv(t, display, bus), addr, hub.URL())
	defer func() {
		if t.Failed() {
			t.Logf("app log:\n%s", log)
		}
	}()

	var win string
	testutil.Eventually(t, "the main window to be mapped", func() bool {
		ids := visibleWindows(t, xdotool, display, "hubmirror")
		if len(ids) > 0 {
			win = ids[0]
		}
		return win != ""
	})
	testutil.Eventually(t, "the mirror to start (start_on_launch)", func() bool { return portOpen(addr) })
	if !strings.Contains(log.String(), "no tray host") {
		t.Errorf("the log does not say why the window is open")
	}

	// Clicks on the window's first button (Start/Stop, just under the
	// status line), the pointer moved off the window after each. The
	// button is disabled while the mirror starts or stops, so a click that
	// came too early is given again.
	click := func(y int) {
		xdo(t, xdotool, display, "mousemove", "--window", win, "100", strconv.Itoa(y))
		xdo(t, xdotool, display, "click", "1")
		xdo(t, xdotool, display, "mousemove", "1270", "790")
	}
	toggle := func(what string, open bool) {
		t.Helper()
		for try := 0; portOpen(addr) != open; try++ {
			if try == 5 {
				t.Fatalf("%s in the window did not take", what)
			}
			click(startStopY)
			deadline := time.Now().Add(5 * time.Second)
			for portOpen(addr) != open && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	toggle("Stop", false)
	toggle("Start", true)

	shot := filepath.Join(t.TempDir(), "notray.png")
	testutil.Eventually(t, "a screenshot showing the main window", func() bool {
		out, err := exec.Command(importBin, "-display", display, "-window", "root", shot).CombinedOutput()
		if err != nil {
			t.Logf("import: %v %s", err, out)
			return false
		}
		return colours(t, shot) > 10
	})
	if dst := os.Getenv("HUBMIRROR_NOTRAY_SCREENSHOT"); dst != "" {
		cropWindow(t, xdo(t, xdotool, display, "getwindowgeometry", "--shell", win), shot, dst)
	}

	// Quit is the last button, at the window's bottom.
	click(quitY)
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

// Where the main window's buttons are, in pixels from its top
// (docs/notray.png: the status line, then nine buttons in rows of 40 px,
// then the figures): Start/Stop is the first, Quit the ninth.
const (
	startStopY = 67
	buttonRow  = 40
	quitY      = startStopY + 8*buttonRow
)

// cropWindow writes the part of the screenshot src that the window with
// xdotool's geometry (--shell) covers to dst.
func cropWindow(t *testing.T, geometry, src, dst string) {
	t.Helper()
	var x, y, w, h int
	for _, line := range strings.Fields(geometry) {
		k, v, _ := strings.Cut(line, "=")
		var n int
		fmt.Sscan(v, &n)
		switch k {
		case "X":
			x = n
		case "Y":
			y = n
		case "WIDTH":
			w = n
		case "HEIGHT":
			h = n
		}
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		t.Fatal("the screenshot cannot be cropped")
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := png.Encode(out, sub.SubImage(image.Rect(x, y, x+w, y+h))); err != nil {
		t.Fatal(err)
	}
}

// watcher is a minimal tray host: it owns org.kde.StatusNotifierWatcher
// and reports each item that registers.
type watcher struct {
	items chan string
}

// RegisterStatusNotifierItem is called by an app's tray item.
func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.items <- string(sender) + service
	return nil
}

// RegisterStatusNotifierHost is called by a tray host.
func (w *watcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// startWatcher owns org.kde.StatusNotifierWatcher on bus.
func startWatcher(t *testing.T, bus string) *watcher {
	t.Helper()
	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w := &watcher{items: make(chan string, 16)}
	const iface = "org.kde.StatusNotifierWatcher"
	if err := conn.Export(w, "/StatusNotifierWatcher", iface); err != nil {
		t.Fatal(err)
	}
	props := map[string]dbus.Variant{
		"IsStatusNotifierHostRegistered": dbus.MakeVariant(true),
		"RegisteredStatusNotifierItems":  dbus.MakeVariant([]string{}),
		"ProtocolVersion":                dbus.MakeVariant(int32(0)),
	}
	if err := conn.Export(propsGetter(props), "/StatusNotifierWatcher", "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(iface, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v %v", iface, reply, err)
	}
	return w
}

// propsGetter serves org.freedesktop.DBus.Properties for fixed values.
type propsGetter map[string]dbus.Variant

// Get returns one property.
func (p propsGetter) Get(_, name string) (dbus.Variant, *dbus.Error) {
	if v, ok := p[name]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.MakeFailedError(fmt.Errorf("no property %s", name))
}

// GetAll returns every property.
func (p propsGetter) GetAll(string) (map[string]dbus.Variant, *dbus.Error) { return p, nil }

// TestTrayHostNoWindow: with a tray host on the bus, the item registers
// with it and no window is forced open.
func TestTrayHostNoWindow(t *testing.T) {
	xdotool := need(t, "xdotool", "apt-get install xdotool")
	busctl := need(t, "busctl", "apt-get install systemd")
	display := startXvfb(t)
	bus := startBus(t)
	w := startWatcher(t, bus)
	bin := needDesktopBinary(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	addr := freeAddr(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus) // for busctl
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, log, exited := startApp(t, ctx, bin, desktopEnv(t, display, bus), addr, hub.URL())
	defer func() {
		if t.Failed() {
			t.Logf("app log:\n%s", log)
		}
	}()
	select {
	case item := <-w.items:
		t.Logf("registered: %s", item)
	case <-ctx.Done():
		t.Fatal("the tray item did not register with the watcher")
	}
	testutil.Eventually(t, "the mirror to start (start_on_launch)", func() bool { return portOpen(addr) })
	menu := &trayMenu{t: t, busctl: busctl, name: fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", cmd.Process.Pid), log: log}
	testutil.Eventually(t, "the status line to say Running", func() bool {
		_, _, ok := menu.find("Running on " + addr)
		return ok
	})
	menu.click("Stop")
	testutil.Eventually(t, "the port to close after Stop", func() bool { return !portOpen(addr) })
	// A window opened now is mapped after any window shown at start:
	// once it is visible, a main window shown at start would be too.
	menu.click("Settings")
	testutil.Eventually(t, "the settings window to be mapped", func() bool {
		return len(visibleWindows(t, xdotool, display, "hubmirror settings")) > 0
	})
	if ids := visibleWindows(t, xdotool, display, "hubmirror"); len(ids) != 0 {
		t.Errorf("a window is open with a tray host present: %v", ids)
	}
	if strings.Contains(log.String(), "no tray host") {
		t.Errorf("the app says there is no tray host")
	}

	// The window is the window process's: closed as a window manager
	// closes it, that process exits (its memory goes back) and the app
	// keeps running in the tray; the next window starts a new one.
	windows := childProcesses(t, cmd.Process.Pid)
	if len(windows) != 1 {
		t.Fatalf("window processes %v, want one", windows)
	}
	wmclose := buildWMClose(t)
	settingsWin := visibleWindows(t, xdotool, display, "hubmirror settings")[0]
	closeCmd := exec.Command(wmclose, settingsWin)
	closeCmd.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := closeCmd.CombinedOutput(); err != nil {
		t.Fatalf("wmclose: %v %s", err, out)
	}
	testutil.Eventually(t, "the window process to exit after its last window closed", func() bool {
		return len(childProcesses(t, cmd.Process.Pid)) == 0
	})
	if !processAlive(cmd.Process.Pid) {
		t.Fatal("the app exited with its window")
	}
	menu.click("Cache")
	testutil.Eventually(t, "the cache window to be mapped by a new window process", func() bool {
		return len(visibleWindows(t, xdotool, display, "hubmirror cache")) > 0
	})
	if again := childProcesses(t, cmd.Process.Pid); len(again) != 1 || again[0] == windows[0] {
		t.Errorf("window processes %v after reopening, want one new one (the first was %d)", again, windows[0])
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
}

// childProcesses returns the pids of pid's children (the app's window
// process), from /proc.
func childProcesses(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		_, rest, ok := strings.Cut(string(b), ") ")
		fields := strings.Fields(rest)
		if !ok || len(fields) < 2 || fields[1] != strconv.Itoa(pid) || fields[0] == "Z" {
			continue
		}
		child, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(p, "/proc/"), "/stat"))
		kids = append(kids, child)
	}
	return kids
}

// processAlive reports whether pid runs and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// buildWMClose compiles scripts/wmclose, which sends WM_DELETE_WINDOW as
// a window manager's close button does (xdotool can only destroy a
// window). It needs gcc and libX11's headers, which the desktop build
// needs too.
var wmcloseOnce = sync.OnceValues(func() (string, error) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "hubmirror-wmclose")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "wmclose")
	out, err := exec.Command("gcc", "-O", "-o", bin, filepath.Join(root, "scripts", "wmclose", "wmclose.c"), "-lX11").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc: %w\n%s", err, out)
	}
	return bin, nil
})

func buildWMClose(t *testing.T) string {
	t.Helper()
	need(t, "gcc", "apt-get install gcc libx11-dev")
	bin, err := wmcloseOnce()
	if err != nil {
		t.Fatalf("building wmclose: %v", err)
	}
	return bin
}
