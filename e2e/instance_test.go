package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestSecondLaunch: `hubmirror` while the desktop app runs shows the
// running one's window, says so in one line and exits 0; the first keeps
// the one listener (and, in a D-Bus session, the one tray item).
func TestSecondLaunch(t *testing.T) {
	xdotool := need(t, "xdotool", "apt-get install xdotool")
	display := startXvfb(t)
	bin := needDesktopBinary(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	addr := freeAddr(t)
	env := append(isolatedEnv(t), "DISPLAY="+display, "MESA_SHADER_CACHE_DISABLE=true", "LANG=en_US.UTF-8")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first, log, exited := startApp(t, ctx, bin, env, addr, hub.URL())
	defer func() {
		if t.Failed() {
			t.Logf("first app's log:\n%s", log)
		}
	}()
	testutil.Eventually(t, "the first app's mirror to listen", func() bool { return portOpen(addr) })
	visible := func() bool {
		search := exec.Command(xdotool, "search", "--onlyvisible", "--name", "hubmirror")
		search.Env = env
		out, _ := search.Output()
		return len(strings.TrimSpace(string(out))) > 0
	}
	// Without a tray host the first app opens its main window: hide it, so
	// that a window shown below is the second launch's doing.
	testutil.Eventually(t, "no window of the first app to be visible", func() bool {
		unmap := exec.Command(xdotool, "search", "--onlyvisible", "--name", "hubmirror", "windowunmap", "%@")
		unmap.Env = env
		_ = unmap.Run()
		return !visible()
	})

	// The second launch gets other files, so only the instance check, not
	// the cache lock or the port, can stop it.
	_, log2, exited2 := startApp(t, ctx, bin, env, addr, hub.URL())
	select {
	case err := <-exited2:
		if err != nil {
			t.Fatalf("the second launch exited with %v, want 0:\n%s", err, log2)
		}
	case err := <-exited:
		t.Fatalf("the first app exited (%v) when the second was launched", err)
	case <-ctx.Done():
		t.Fatalf("the second launch did not exit:\n%s", log2)
	}
	out := log2.String()
	if !strings.Contains(out, "hubmirror is already running: its window was brought to the front.\n") {
		t.Errorf("the second launch does not say the app runs already:\n%s", out)
	}
	if strings.Contains(out, "listening") || strings.Contains(out, "desktop app started") {
		t.Errorf("the second launch started an app of its own:\n%s", out)
	}
	testutil.Eventually(t, "the first app's window to be shown", visible)
	if !portOpen(addr) {
		t.Error("the first app's mirror stopped listening")
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		names, err := exec.Command("busctl", "--user", "list", "--no-legend").Output()
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(names), "org.kde.StatusNotifierItem-"); n > 1 {
			t.Errorf("%d tray items, want at most the first app's", n)
		}
	}

	_ = first.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the first app exited with %v after SIGINT, want 0", err)
		}
	case <-ctx.Done():
		t.Fatal("the first app did not exit on SIGINT")
	}
}

// TestOpenAtLoginFollowsFile: open_at_login turned on in the settings file
// while the desktop app runs writes the XDG autostart entry, which runs
// this binary with this settings file; turned off, it removes it.
func TestOpenAtLoginFollowsFile(t *testing.T) {
	display := startXvfb(t)
	bin := needDesktopBinary(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	env := append(isolatedEnv(t), "DISPLAY="+display, "MESA_SHADER_CACHE_DISABLE=true", "LANG=en_US.UTF-8")
	var configHome string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "XDG_CONFIG_HOME="); ok {
			configHome = v
		}
	}
	entry := filepath.Join(configHome, "autostart", "hubmirror.desktop")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, log, exited := startApp(t, ctx, bin, env, "127.0.0.1:0", hub.URL())
	defer func() {
		if t.Failed() {
			t.Logf("app log:\n%s", log)
		}
	}()
	config := cmd.Args[slices.Index(cmd.Args, "--config")+1]
	testutil.Eventually(t, "the app to start", func() bool { return strings.Contains(log.String(), "desktop app started") })
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Fatalf("an autostart entry with open_at_login off: %v", err)
	}

	setOpenAtLogin := func(on bool) {
		t.Helper()
		s := map[string]any{}
		if raw, err := os.ReadFile(config); err == nil {
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
		}
		s["open_at_login"] = on
		raw, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(config, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setOpenAtLogin(true)
	var body string
	testutil.Eventually(t, "the autostart entry", func() bool {
		raw, err := os.ReadFile(entry)
		body = string(raw)
		return err == nil
	})
	if want := "\nExec=" + bin + " --config " + config + "\n"; !strings.Contains(body, want) {
		t.Errorf("the entry has no line %q:\n%s", strings.TrimSpace(want), body)
	}
	setOpenAtLogin(false)
	testutil.Eventually(t, "the autostart entry to go", func() bool {
		_, err := os.Stat(entry)
		return os.IsNotExist(err)
	})

	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the app exited with %v after SIGINT, want 0", err)
		}
	case <-ctx.Done():
		t.Fatal("the app did not exit on SIGINT")
	}
}

// TestServeOnCacheInUse: a second `hubmirror serve` on a cache directory
// in use fails, naming the running one's pid and address.
func TestServeOnCacheInUse(t *testing.T) {
	first := startMirror(t, "http://127.0.0.1:9")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "serve", "--listen", "127.0.0.1:0", "--cache-dir", first.CacheDir,
		"--config", filepath.Join(t.TempDir(), "settings.json"))
	cmd.Env = isolatedEnv(t)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("want a quick non-zero exit, got %v:\n%s", err, out)
	}
	for _, want := range []string{"in use by another hubmirror", "pid " + strconv.Itoa(first.cmd.Process.Pid), first.Addr} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not name %q:\n%s", want, out)
		}
	}
}
