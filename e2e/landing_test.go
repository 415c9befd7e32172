package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// chromium runs headless Chromium on url with extra flags and returns its
// output. The flags keep it off the network, which is closed here.
//
// Chromium writes alarming lines to stderr on every healthy run (no system
// D-Bus, no X11 display, no GPU), so its stderr is kept in the test's log
// only when the test fails, where it may explain the failure.
func chromium(t *testing.T, bin, url string, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, flags...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Env = isolatedEnv(t)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium %v stderr:\n%s", flags, stderr)
		}
	})
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", flags, err)
	}
	return string(out)
}

// TestLandingPageInChromium loads the landing page in a real browser by the
// name "localhost": the rendered snippets name that host, Chinese comes
// for a Chinese browser, and a screenshot shows the page.
func TestLandingPageInChromium(t *testing.T) {
	bin := need(t, "chromium", "apt-get install chromium (scripts/deps.sh --test)")
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	m := startMirror(t, hub.URL())
	_, port, _ := strings.Cut(m.Addr, ":")
	host := "localhost:" + port
	url := "http://" + host + "/"

	dom := chromium(t, bin, url, "--dump-dom")
	for _, want := range []string{
		`"registry-mirrors": ["http://` + host + `"]`,
		`[host."http://` + host + `"]`,
		"docker pull " + host + "/alpine",
		"Point your tools at this mirror",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if zh := chromium(t, bin, url, "--dump-dom", "--accept-lang=zh-CN"); !strings.Contains(zh, "配置你的工具使用此镜像") {
		t.Errorf("a Chinese browser did not get the Chinese page")
	}

	shot := filepath.Join(t.TempDir(), "landing.png")
	chromium(t, bin, url, "--screenshot="+shot, "--window-size=1280,1000", "--hide-scrollbars")
	if n := colours(t, shot); n < 20 {
		t.Errorf("the screenshot has %d colours: the page did not render", n)
	}
	if dst := os.Getenv("HUBMIRROR_LANDING_SCREENSHOT"); dst != "" {
		raw, _ := os.ReadFile(shot)
		if err := os.WriteFile(dst, raw, 0o644); err != nil {
			t.Error(err)
		}
	}
}
