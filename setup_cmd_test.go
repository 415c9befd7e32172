package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// runSetupTest runs `hubmirror setup ARGS` as a user on goos would, in
// English, and returns stdout and stderr.
func runSetupTest(t *testing.T, goos string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // never the user's own settings
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	var stdout, stderr bytes.Buffer
	err := runSetup(i18n.English, goos, args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// daemonJSON decodes out as exactly one daemon.json document, as dockerd
// reads it: no comments, no second document, no other keys.
func daemonJSON(t *testing.T, out string) (mirrors, insecure []string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var cfg struct {
		Mirrors  []string `json:"registry-mirrors"`
		Insecure []string `json:"insecure-registries"`
	}
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("stdout is not one daemon.json: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", out)
	}
	return cfg.Mirrors, cfg.Insecure
}

// hasComment reports whether a line of text starts as a comment does in
// JSON with comments or in TOML.
func hasComment(text string) bool {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "//") || strings.HasPrefix(line, "#") {
			return true
		}
	}
	return false
}

// `hubmirror setup docker` prints one daemon.json on stdout, for this
// OS's engine unless --vm or --native choose, and the notes on stderr.
func TestSetupDockerPrintsOneDaemonJSON(t *testing.T) {
	for _, tc := range []struct {
		goos     string
		flags    []string
		mirror   string
		insecure bool
	}{
		{"linux", nil, "http://127.0.0.1:5000", false},
		{"darwin", nil, "http://host.docker.internal:5000", true},
		{"windows", nil, "http://host.docker.internal:5000", true},
		{"linux", []string{"--vm"}, "http://host.docker.internal:5000", true},
		{"darwin", []string{"--native"}, "http://127.0.0.1:5000", false},
		{"linux", []string{"--host", "mirror.lan:5001"}, "http://mirror.lan:5001", true},
	} {
		config := filepath.Join(t.TempDir(), "settings.json")
		args := append([]string{"docker", "--config", config}, tc.flags...)
		stdout, stderr, err := runSetupTest(t, tc.goos, args...)
		if err != nil {
			t.Fatalf("%s %v: %v", tc.goos, args, err)
		}
		mirrors, insecure := daemonJSON(t, stdout)
		if !slices.Equal(mirrors, []string{tc.mirror}) || (len(insecure) > 0) != tc.insecure {
			t.Errorf("%s %v: mirrors %v, insecure %v", tc.goos, tc.flags, mirrors, insecure)
		}
		if !strings.Contains(stderr, "# ") || hasComment(stdout) {
			t.Errorf("%s %v: notes not on stderr only:\nstdout %s\nstderr %s", tc.goos, tc.flags, stdout, stderr)
		}
	}
	if _, _, err := runSetupTest(t, "linux", "docker", "--config", filepath.Join(t.TempDir(), "s.json"), "--vm", "--native"); err == nil {
		t.Error("--vm with --native: no error")
	}
}

// With the local CA, stdout is still only daemon.json: how Docker trusts
// the CA goes to stderr with the notes.
func TestSetupDockerWithLocalCA(t *testing.T) {
	config := filepath.Join(t.TempDir(), "settings.json")
	stdout, stderr, err := runSetupTest(t, "linux", "docker", "--config", config, "--tls", "auto", "--host", "mirror.lan:5000")
	if err != nil {
		t.Fatal(err)
	}
	if mirrors, insecure := daemonJSON(t, stdout); !slices.Equal(mirrors, []string{"https://mirror.lan:5000"}) || len(insecure) > 0 {
		t.Errorf("mirrors %v, insecure %v", mirrors, insecure)
	}
	if !strings.Contains(stderr, "/etc/docker/certs.d/mirror.lan:5000/ca.crt") || !strings.Contains(stderr, "openssl x509") {
		t.Errorf("stderr lacks the CA's installation:\n%s", stderr)
	}
}

// setup only prints: a missing settings file stays missing, and an
// existing one is read, not rewritten.
func TestSetupNeverWritesTheSettingsFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	missing := filepath.Join(dir, "settings.json")
	for _, client := range []string{"docker", "containerd", "podman", "k3s", "kind", "pull"} {
		if _, _, err := runSetupTest(t, "linux", client, "--config", missing); err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("setup %s --config FILE made %s: %v", client, dir, err)
		}
	}
	existing := filepath.Join(t.TempDir(), "settings.json")
	const text = `{"listen": "192.168.1.20:5000"}` + "\n"
	if err := os.WriteFile(existing, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := runSetupTest(t, "linux", "docker", "--config", existing)
	if err != nil {
		t.Fatal(err)
	}
	if mirrors, _ := daemonJSON(t, stdout); !slices.Equal(mirrors, []string{"http://192.168.1.20:5000"}) {
		t.Errorf("the settings file's listen address was not used: %v", mirrors)
	}
	if got, _ := os.ReadFile(existing); string(got) != text {
		t.Errorf("the settings file changed:\n%s", got)
	}
	if _, _, err := runSetupTest(t, "linux", "docker", "--config", missing, "--listen", "localhost"); err == nil {
		t.Error("a bad --listen with a missing settings file: no error")
	}
}

// What setup prints for podman is a registries.conf as it is, comments
// and all.
func TestSetupPodmanPrintsRegistriesConf(t *testing.T) {
	stdout, stderr, err := runSetupTest(t, "linux", "podman", "--config", filepath.Join(t.TempDir(), "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Registry []struct {
			Prefix, Location string
			Insecure         bool
		}
	}
	if _, err := toml.Decode(stdout, &conf); err != nil || len(conf.Registry) < 2 {
		t.Fatalf("not a registries.conf: %v\n%s", err, stdout)
	}
	if r := conf.Registry[0]; r.Location != "127.0.0.1:5000" || !r.Insecure {
		t.Errorf("the mirror's own address is not insecure: %+v", r)
	}
	if stderr != "" {
		t.Errorf("stderr: %s", stderr)
	}
}
