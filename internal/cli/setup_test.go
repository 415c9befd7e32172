package cli

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

	"github.com/hubmirror/hubmirror/internal/clientconf"
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

// runApplyTest runs `hubmirror setup ARGS` in English on m, a computer
// with its home in a temporary folder unless m names one, and returns
// stdout and the error.
func runApplyTest(t *testing.T, m machine, args ...string) (string, error) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	if m.goos == "" {
		m.goos = "linux"
	}
	if m.home == "" {
		m.home = t.TempDir()
	}
	var stdout, stderr bytes.Buffer
	err := runSetupOn(i18n.English, m, args, &stdout, &stderr)
	return stdout.String(), err
}

// readText is path's contents, or "<missing>".
func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// `setup docker --apply --file` merges the mirror into a daemon.json with
// other keys and mirrors, backs it up, says how to restart; a second
// --apply leaves it byte for byte; --undo gives the original back.
func TestSetupDockerApplyAndUndo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.json")
	orig := "{\n  \"data-root\": \"/srv/docker\",\n  \"registry-mirrors\": [\"https://mirror.gcr.io\"],\n  \"log-level\": \"warn\"\n}\n"
	os.WriteFile(path, []byte(orig), 0o644)
	settingsFile := filepath.Join(t.TempDir(), "conf", "settings.json")
	out, err := runApplyTest(t, machine{}, "docker", "--apply", "--file", path, "--config", settingsFile)
	if err != nil {
		t.Fatal(err)
	}
	applied := readText(t, path)
	var doc map[string]any
	if err := json.Unmarshal([]byte(applied), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, applied)
	}
	if m, _ := doc["registry-mirrors"].([]any); len(m) != 2 || m[0] != "http://127.0.0.1:5000" || m[1] != "https://mirror.gcr.io" || doc["data-root"] != "/srv/docker" || doc["log-level"] != "warn" {
		t.Errorf("merged:\n%s", applied)
	}
	if _, ok := doc["insecure-registries"]; ok {
		t.Errorf("insecure-registries for a loopback mirror:\n%s", applied)
	}
	if readText(t, path+".hubmirror-backup") != orig || !strings.Contains(out, "sudo systemctl restart docker") || !strings.Contains(out, path+".hubmirror-backup") {
		t.Errorf("no backup or restart hint:\n%s", out)
	}
	os.Remove(path + ".hubmirror-backup")
	if out, err := runApplyTest(t, machine{}, "docker", "--apply", "--file", path, "--config", settingsFile); err != nil || readText(t, path) != applied || !strings.Contains(out, "nothing changed") {
		t.Errorf("second apply: %v\n%s", err, out)
	}
	if readText(t, path+".hubmirror-backup") != "<missing>" {
		t.Error("the second apply wrote a backup")
	}
	if _, err := os.Stat(filepath.Dir(settingsFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("--apply made the settings folder: %v", err)
	}
	if _, err := runApplyTest(t, machine{}, "docker", "--undo", "--file", path, "--config", settingsFile); err != nil {
		t.Fatal(err)
	}
	if readText(t, path) != orig {
		t.Errorf("undo gave\n%s", readText(t, path))
	}
}

// Without --file, --apply picks the engine's daemon.json and says which:
// Docker Desktop's in ~/.docker, OrbStack's when ~/.orbstack exists, both
// with the VM form (host.docker.internal, insecure) of the snippet.
func TestSetupDockerApplyChoosesTheFile(t *testing.T) {
	home := t.TempDir()
	out, err := runApplyTest(t, machine{goos: "darwin", home: home}, "docker", "--apply", "--config", filepath.Join(home, "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	desktop := filepath.Join(home, ".docker", "daemon.json")
	mirrors, insecure := daemonJSON(t, readText(t, desktop))
	if !slices.Equal(mirrors, []string{"http://host.docker.internal:5000"}) || !slices.Equal(insecure, []string{"host.docker.internal:5000"}) {
		t.Errorf("Docker Desktop: %v %v", mirrors, insecure)
	}
	if !strings.Contains(out, "Docker Desktop: "+desktop) || !strings.Contains(out, "Restart Docker Desktop") {
		t.Errorf("does not say which file:\n%s", out)
	}
	os.MkdirAll(filepath.Join(home, ".orbstack"), 0o755)
	out, err = runApplyTest(t, machine{goos: "darwin", home: home}, "docker", "--apply", "--config", filepath.Join(home, "s.json"))
	orb := filepath.Join(home, ".orbstack", "config", "docker.json")
	if err != nil || !strings.Contains(out, "OrbStack: "+orb) || readText(t, orb) == "<missing>" {
		t.Errorf("OrbStack: %v\n%s", err, out)
	}
	if !strings.Contains(out, "orb restart docker") {
		t.Errorf("no OrbStack restart hint:\n%s", out)
	}
}

// A daemon.json the user may not write gets the command that does it as
// root, with the file and the mirror's address spelled out; nothing is
// written.
func TestSetupApplyWithoutRightsSaysSudo(t *testing.T) {
	denied := clientconf.Disk{WriteFile: func(p string, _ []byte, _ fs.FileMode) error {
		return &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}}
	config := filepath.Join(t.TempDir(), "settings.json")
	_, err := runApplyTest(t, machine{disk: denied}, "docker", "--apply", "--config", config)
	want := "sudo hubmirror setup docker --apply --config " + config + " --file /etc/docker/daemon.json --host 127.0.0.1:5000"
	if err == nil || !strings.Contains(err.Error(), "cannot write /etc/docker/daemon.json") || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
	dir := t.TempDir()
	_, err = runApplyTest(t, machine{disk: denied}, "containerd", "--apply", "--dir", dir, "--containerd-config", filepath.Join(dir, "none.toml"), "--config", config)
	if err == nil || !strings.Contains(err.Error(), "sudo hubmirror setup containerd --apply --dir "+dir) {
		t.Errorf("containerd: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("written without rights: %v", entries)
	}
}

// Flags may come before the client too: the sudo line still names the
// client first and repeats every flag the user gave.
func TestSetupSudoWithFlagsBeforeClient(t *testing.T) {
	denied := clientconf.Disk{WriteFile: func(p string, _ []byte, _ fs.FileMode) error {
		return &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}}
	config := filepath.Join(t.TempDir(), "settings.json")
	_, err := runApplyTest(t, machine{disk: denied}, "--apply", "--config", config, "docker")
	want := "sudo hubmirror setup docker --apply --config " + config + " --file /etc/docker/daemon.json --host 127.0.0.1:5000"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// Bad JSON in the existing daemon.json: an error naming the file and the
// line, and the file as it was.
func TestSetupDockerApplyBadJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.json")
	bad := "{\n  \"debug\": true,\n}\n"
	os.WriteFile(path, []byte(bad), 0o644)
	_, err := runApplyTest(t, machine{}, "docker", "--apply", "--file", path, "--config", filepath.Join(t.TempDir(), "s.json"))
	if err == nil || !strings.Contains(err.Error(), path+": line 3:") {
		t.Errorf("%v", err)
	}
	if readText(t, path) != bad || readText(t, path+".hubmirror-backup") != "<missing>" {
		t.Error("the file was written")
	}
}

// `setup containerd --apply` writes a hosts.toml per mirrored registry
// into --dir and gives the config_path lines for the config's version
// (both when there is none); --undo removes the files.
func TestSetupContainerdApplyAndUndo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs.d")
	conf := filepath.Join(t.TempDir(), "config.toml")
	config := filepath.Join(t.TempDir(), "settings.json")
	v1x := "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"" + dir + "\"\n"
	v2x := "[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"" + dir + "\"\n"
	for _, tc := range []struct {
		config        string // "" for none
		want, wantNot []string
	}{
		{"version = 2\nroot = \"/var/lib/containerd\"\n", []string{v1x, "does not set config_path"}, []string{v2x}},
		{"version = 3\n", []string{v2x}, []string{v1x}},
		{"", []string{"There is no " + conf, v1x, v2x}, nil},
		{"version = 2\n" + v1x, []string{"nothing to add"}, []string{"Add these lines"}},
	} {
		os.Remove(conf)
		if tc.config != "" {
			os.WriteFile(conf, []byte(tc.config), 0o644)
		}
		out, err := runApplyTest(t, machine{}, "containerd", "--apply", "--dir", dir, "--containerd-config", conf, "--config", config)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.want {
			if !strings.Contains(out, s) {
				t.Errorf("config %q: no %q in\n%s", tc.config, s, out)
			}
		}
		for _, s := range tc.wantNot {
			if strings.Contains(out, s) {
				t.Errorf("config %q: %q in\n%s", tc.config, s, out)
			}
		}
		if !strings.Contains(out, "--hosts-dir "+dir) {
			t.Errorf("no ctr line:\n%s", out)
		}
		if got := readText(t, conf); tc.config != "" && got != tc.config {
			t.Errorf("config.toml changed: %s", got)
		}
	}
	hub := readText(t, filepath.Join(dir, "docker.io", "hosts.toml"))
	var hosts struct {
		Server string
		Host   map[string]struct{ Capabilities []string }
	}
	if _, err := toml.Decode(hub, &hosts); err != nil || hosts.Server != "https://registry-1.docker.io" || len(hosts.Host["http://127.0.0.1:5000"].Capabilities) != 2 {
		t.Errorf("docker.io's hosts.toml: %v\n%s", err, hub)
	}
	if readText(t, filepath.Join(dir, "ghcr.io", "hosts.toml")) == "<missing>" {
		t.Error("no hosts.toml for ghcr.io")
	}
	os.WriteFile(conf, []byte("version = 2\n[plugins\n"), 0o644)
	if _, err := runApplyTest(t, machine{}, "containerd", "--apply", "--dir", dir+"2", "--containerd-config", conf, "--config", config); err == nil || !strings.Contains(err.Error(), conf+": line") {
		t.Errorf("bad config.toml: %v", err)
	}
	if _, err := os.Stat(dir + "2"); !errors.Is(err, fs.ErrNotExist) {
		t.Error("hosts.toml written despite a bad config.toml")
	}
	if _, err := runApplyTest(t, machine{}, "containerd", "--undo", "--dir", dir, "--config", config); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("undo left %v", entries)
	}
}

// `setup podman --apply --file` adds the block, with the mirror's own
// address insecure, to a registries.conf of the user's, keeping the rest;
// --undo gives the original back. Without --file, a user's own file in
// their config folder is the target.
func TestSetupPodmanApplyAndUndo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registries.conf")
	orig := "# mine\nunqualified-search-registries = [\"docker.io\"]\n"
	os.WriteFile(path, []byte(orig), 0o644)
	config := filepath.Join(t.TempDir(), "settings.json")
	if _, err := runApplyTest(t, machine{}, "podman", "--apply", "--file", path, "--config", config); err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Registry []struct {
			Prefix, Location string
			Insecure         bool
		}
	}
	text := readText(t, path)
	if _, err := toml.Decode(text, &conf); err != nil || !strings.HasPrefix(text, orig) {
		t.Fatalf("%v\n%s", err, text)
	}
	if r := conf.Registry[0]; r.Location != "127.0.0.1:5000" || !r.Insecure {
		t.Errorf("the mirror's own address is not insecure: %+v", r)
	}
	if _, err := runApplyTest(t, machine{}, "podman", "--undo", "--file", path, "--config", config); err != nil || readText(t, path) != orig {
		t.Errorf("undo: %v\n%s", err, readText(t, path))
	}
	home := t.TempDir()
	system := filepath.Join(t.TempDir(), "registries.conf")
	os.WriteFile(system, []byte(orig), 0o644)
	m := machine{home: home, systemRegistries: system}
	out, err := runApplyTest(t, m, "podman", "--apply", "--config", config)
	own := filepath.Join(home, ".config", "containers", "registries.conf")
	if err != nil || !strings.Contains(out, own) || !strings.Contains(out, "copy of "+system) || !strings.HasPrefix(readText(t, own), orig) {
		t.Errorf("rootless default: %v\n%s", err, out)
	}
	if _, err := runApplyTest(t, m, "podman", "--undo", "--config", config); err != nil || readText(t, own) != "<missing>" || readText(t, system) != orig {
		t.Errorf("rootless undo: %v", err)
	}
}

// Flags that do not go together are refused, before anything is written.
func TestSetupApplyFlagMistakes(t *testing.T) {
	config := filepath.Join(t.TempDir(), "settings.json")
	for _, args := range [][]string{
		{"k3s", "--apply"},
		{"docker", "--apply", "--undo"},
		{"docker", "--file", "x.json"},
		{"containerd", "--apply", "--file", "x"},
		{"podman", "--apply", "--dir", "x"},
	} {
		if _, err := runApplyTest(t, machine{}, append(args, "--config", config)...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
