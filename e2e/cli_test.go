package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesBadStarts runs `hubmirror serve` the ways a user gets
// wrong and checks it exits 1 at once with a message that says what to do.
func TestServeRefusesBadStarts(t *testing.T) {
	bin := binary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badFile, []byte(`{"listen": "localhost", "cache_dir": "/tmp/x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"address in use", []string{"--listen", taken.Addr().String()}, []string{"is taken by another program", "--listen", "AirPlay"}},
		{"bad settings file", []string{"--config", badFile}, []string{badFile, `"listen"`, "host:port"}},
		{"bad flag", []string{"--listen", "nope"}, []string{"--listen", "host:port"}},
		{"bad upstream", []string{"--upstream", "docker.io=ftp://x"}, []string{"-upstream", "http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--cache-dir", filepath.Join(t.TempDir(), "cache"),
				"--config", filepath.Join(t.TempDir(), "settings.json")}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = isolatedEnv(t)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 || ctx.Err() != nil {
				t.Fatalf("want a quick non-zero exit, got %v:\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not mention %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestServeCreatesSettingsFile checks a first run writes the defaults with
// mode 0600 and that flags are not written into it.
func TestServeCreatesSettingsFile(t *testing.T) {
	m := startMirror(t, "http://127.0.0.1:9")
	m.stop(t)
	path := m.ConfigPath
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("settings file mode %v, want 0600", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"listen": "127.0.0.1:5000"`) || strings.Contains(string(raw), "127.0.0.1:9") {
		t.Errorf("settings file:\n%s", raw)
	}
}

// TestCommandLineLanguage: the command line answers in Chinese when the
// locale is Chinese, in English otherwise.
func TestCommandLineLanguage(t *testing.T) {
	for _, tc := range []struct {
		lang, want string
	}{
		{"zh_CN.UTF-8", "用法"},
		{"en_US.UTF-8", "Usage:"},
		{"C.UTF-8", "Usage:"},
	} {
		env := append(isolatedEnv(t), "LANG="+tc.lang, "LC_ALL=", "LC_MESSAGES=")
		out, code := hubmirror(t, env, "", "help")
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("LANG=%s: exit %d, output lacks %q:\n%s", tc.lang, code, tc.want, out)
		}
	}
	env := append(isolatedEnv(t), "LANG=zh_CN.UTF-8", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus")
	if out, _ := hubmirror(t, env, "", "login", "-u", "alice"); !strings.Contains(out, "需要") {
		t.Errorf("a Chinese user's login error is not in Chinese: %s", out)
	}
}
