package e2e

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// keyringSession fails (under HUBMIRROR_E2E=1) or skips when there is no
// D-Bus session with a Secret Service; scripts/test.sh runs the tests
// inside dbus-run-session with an unlocked gnome-keyring.
func keyringSession(t *testing.T) {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" && os.Getenv("HUBMIRROR_KEYRING") == "1" {
		return
	}
	msg := "no D-Bus session with an unlocked keyring: run scripts/test.sh (dbus-run-session and gnome-keyring-daemon --unlock)"
	if e2eRequired() {
		t.Fatal(msg)
	}
	t.Skip(msg + "; " + e2eHint)
}

// hubmirror runs the binary with stdin and returns its output and exit code.
func hubmirror(t *testing.T, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("hubmirror %v did not finish: %s", args, out)
	}
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("hubmirror %v: %v", args, err)
		}
		code = exit.ExitCode()
	}
	return string(out), code
}

func status(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginUsesRealKeyring: `login` checks the password with upstream and
// stores it in a real Secret Service; the mirror's token requests carry it;
// `logout` removes it. The password never reaches any output.
func TestLoginUsesRealKeyring(t *testing.T) {
	keyringSession(t)
	const password = "alice-e2e-password-7f3a"
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.AddUser("alice", password)
	hub.AddImage("alice/secret", "v1", []byte("private layer"))
	hub.SetPrivate("alice/secret", "alice")
	env := isolatedEnv(t)
	config := filepath.Join(t.TempDir(), "settings.json")
	up := "docker.io=" + hub.URL()

	out, code := hubmirror(t, env, "wrong-password\n", "login", "-u", "alice", "--password-stdin", "--config", config, "--upstream", up)
	if code == 0 || !strings.Contains(out, "refused") {
		t.Fatalf("login with a wrong password: exit %d: %s", code, out)
	}
	out, code = hubmirror(t, env, password+"\n", "login", "docker.io", "-u", "alice", "--password-stdin", "--config", config, "--upstream", up)
	if code != 0 || !strings.Contains(out, "Login succeeded") {
		t.Fatalf("login: exit %d: %s", code, out)
	}
	all := out

	m := startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "cache"), env)
	if got := status(t, m.URL("/v2/alice/secret/manifests/v1")); got != http.StatusOK {
		t.Fatalf("pull of alice's private image with her stored account: %d", got)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))
	seen := false
	for _, r := range hub.Requests() {
		seen = seen || (r.Server == fakehub.ServerAuth && r.Authorization == basic)
	}
	if !seen {
		t.Errorf("the token service never saw the stored credentials")
	}
	m.stop(t)
	all += m.log.String()

	out, code = hubmirror(t, env, "", "logout")
	if code != 0 || !strings.Contains(out, "Removed") {
		t.Fatalf("logout: exit %d: %s", code, out)
	}
	all += out
	m = startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "cache"), env)
	if got := status(t, m.URL("/v2/alice/secret/manifests/v1")); got == http.StatusOK {
		t.Errorf("after logout the private image still pulls")
	}
	m.stop(t)
	all += m.log.String()
	out, _ = hubmirror(t, env, "", "logout")
	if !strings.Contains(out, "No credentials") {
		t.Errorf("second logout: %s", out)
	}
	if strings.Contains(all, password) {
		t.Errorf("the password appears in hubmirror's output")
	}
}

// TestKeyringUnavailable: with no Secret Service, login says so in one line
// that tells what to do, and the mirror still runs, anonymously.
func TestKeyringUnavailable(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.AddUser("alice", "pw-unavailable-1")
	hub.AddImage("library/alpine", "latest", []byte("public"))
	env := append(isolatedEnv(t), "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus")
	config := filepath.Join(t.TempDir(), "settings.json")

	out, code := hubmirror(t, env, "pw-unavailable-1\n", "login", "-u", "alice", "--password-stdin", "--config", config, "--upstream", "docker.io="+hub.URL())
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code == 0 || len(lines) != 1 || !strings.Contains(out, "keyring") || !strings.Contains(out, "gnome-keyring") {
		t.Errorf("login without a keyring: exit %d, %d lines: %s", code, len(lines), out)
	}
	if strings.Contains(out, "pw-unavailable-1") {
		t.Errorf("the password is in the message")
	}

	m := startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "cache"), env)
	if got := status(t, m.URL("/v2/alpine/manifests/latest")); got != http.StatusOK {
		t.Errorf("anonymous pull without a keyring: %d", got)
	}
	status(t, m.URL("/v2/alpine/tags/list"))
	m.stop(t)
	if n := strings.Count(m.log.String(), "cannot read stored credentials"); n != 1 {
		t.Errorf("the mirror said the keyring is unavailable %d times, want once:\n%s", n, m.log)
	}
}

// TestSettingsChangeReachesRunningMirror: turning self_auth on in the
// settings file takes effect without a restart.
func TestSettingsChangeReachesRunningMirror(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.AddImage("library/alpine", "latest", []byte("public"))
	m := startMirror(t, hub.URL())
	if got := status(t, m.URL("/v2/")); got != http.StatusOK {
		t.Fatalf("GET /v2/ with self_auth off: %d", got)
	}
	raw, err := os.ReadFile(m.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	on := strings.Replace(string(raw), `"self_auth": false`, `"self_auth": true`, 1)
	if on == string(raw) {
		t.Fatalf("settings file has no self_auth: %s", raw)
	}
	if err := os.WriteFile(m.ConfigPath, []byte(on), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for status(t, m.URL("/v2/")) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatalf("self_auth did not reach the running mirror:\n%s", m.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(m.log.String(), "access changed") {
		t.Errorf("the log does not say the access changed")
	}
}
