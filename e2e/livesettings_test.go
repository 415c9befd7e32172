package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestDesktopAppFollowsSettingsFile: `hubmirror pin add` while the
// desktop app runs with its settings window open reaches the app's
// mirror, which fetches the pinned image, as `hubmirror serve` does.
func TestDesktopAppFollowsSettingsFile(t *testing.T) {
	xdotool := need(t, "xdotool", "apt-get install xdotool")
	display := startXvfb(t)
	bin := needDesktopBinary(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := hub.AddImage("library/alpine", "3.20", randomBytes(30_000, 5))

	// No D-Bus session: no tray, so the settings window stays open.
	var env []string
	for _, kv := range isolatedEnv(t, "DISPLAY="+display, "MESA_SHADER_CACHE_DISABLE=true", "LANG=en_US.UTF-8") {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			env = append(env, kv)
		}
	}
	dir := t.TempDir()
	config, cacheDir := filepath.Join(dir, "settings.json"), filepath.Join(dir, "cache")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--listen", "127.0.0.1:0", "--config", config,
		"--cache-dir", cacheDir, "--upstream", "docker.io="+hub.URL())
	cmd.Env = env
	log := newLogTail(logTailLines)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if t.Failed() {
			t.Logf("app log:\n%s", log)
		}
	}()
	select {
	case <-log.addr:
	case err := <-exited:
		t.Fatalf("the app exited before listening: %v", err)
	case <-ctx.Done():
		t.Fatal("the app's mirror did not start")
	}
	testutil.Eventually(t, "the settings window", func() bool {
		search := exec.Command(xdotool, "search", "--onlyvisible", "--name", "hubmirror")
		search.Env = env
		out, _ := search.Output()
		return len(strings.TrimSpace(string(out))) > 0
	})

	if out, code := hubmirror(t, env, "", "pin", "add", "--config", config, "alpine:3.20"); code != 0 {
		t.Fatalf("pin add: %d %s", code, out)
	}
	testutil.Eventually(t, "the pinned image fetched by the desktop app's mirror", func() bool {
		return blobCached(cacheDir, img.Layers[0].Digest)
	})

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the app did not exit after SIGTERM")
	}
	if raw, err := os.ReadFile(config); err != nil || !strings.Contains(string(raw), "alpine:3.20") {
		t.Errorf("the pin is not in the settings file after the app quit (%v):\n%s", err, raw)
	}
}
