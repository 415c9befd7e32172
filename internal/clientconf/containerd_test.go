package clientconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// hubBody is a hosts.toml as the containerd snippets write it.
const hubBody = "server = \"https://registry-1.docker.io\"\n\n[host.\"http://127.0.0.1:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n"

// A hosts.toml hubmirror writes is TOML containerd reads as the snippet,
// and tells itself apart from the user's and from one changed since.
func TestHostsFile(t *testing.T) {
	f := HostsFile(hubBody)
	var a, b map[string]any
	if _, err := toml.Decode(string(f), &a); err != nil {
		t.Fatal(err)
	}
	toml.Decode(hubBody, &b)
	if len(a) != len(b) || a["server"] != b["server"] {
		t.Errorf("the marker changed what containerd reads: %v", a)
	}
	for _, tc := range []struct {
		data string
		want HostsState
	}{
		{string(f), HostsOurs},
		{hubBody, HostsForeign},
		{strings.Replace(string(f), "5000", "5001", 1), HostsChanged},
		{string(f) + "\n", HostsChanged},
		{hostsMarker + "zz\n" + hubBody, HostsChanged},
	} {
		if got := StateOfHosts([]byte(tc.data)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.data, got, tc.want)
		}
	}
}

// write puts text at dir/name, making folders.
func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// read is path's text, or "<missing>".
func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Apply writes one hosts.toml per registry, leaves one already right, backs
// up the user's own; undo removes what it wrote and nobody changed, puts
// the user's back, keeps a changed one and the user's other registries.
func TestContainerdApplyUndo(t *testing.T) {
	dir := t.TempDir()
	mine := "server = \"https://quay.io\"\n"
	write(t, filepath.Join(dir, "quay.io", "hosts.toml"), mine)
	other := filepath.Join(dir, "example.com", "hosts.toml")
	write(t, other, mine)
	hosts := map[string]string{"docker.io": hubBody, "ghcr.io": strings.Replace(hubBody, "registry-1.docker.io", "ghcr.io", 1), "quay.io": hubBody}
	var d Disk
	changes, err := d.ApplyContainerd(dir, hosts)
	if err != nil || len(changes) != 3 {
		t.Fatal(err, changes)
	}
	for _, ch := range changes {
		r := filepath.Base(filepath.Dir(ch.Path))
		if ch.Action != Wrote || read(t, ch.Path) != string(HostsFile(hosts[r])) {
			t.Errorf("%s: %+v\n%s", r, ch, read(t, ch.Path))
		}
		if (ch.Backup != "") != (r == "quay.io") {
			t.Errorf("%s: backup %q", r, ch.Backup)
		}
	}
	if read(t, filepath.Join(dir, "quay.io", "hosts.toml"+BackupSuffix)) != mine {
		t.Error("the user's hosts.toml was not backed up")
	}
	again, err := d.ApplyContainerd(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range again {
		if ch.Action != Unchanged || ch.Backup != "" {
			t.Errorf("second apply: %+v", ch)
		}
	}
	// Another mirror address replaces hubmirror's own file, with no backup.
	moved := map[string]string{"docker.io": strings.Replace(hubBody, "5000", "5001", 1)}
	if ch, err := d.ApplyContainerd(dir, moved); err != nil || ch[0].Action != Wrote || ch[0].Backup != "" {
		t.Errorf("new address: %v %+v", err, ch)
	}
	changed := filepath.Join(dir, "ghcr.io", "hosts.toml")
	write(t, changed, read(t, changed)+"# mine now\n")

	undone, err := d.UndoContainerd(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, ch := range undone {
		got[filepath.Base(filepath.Dir(ch.Path))] = ch.Action
	}
	if got["docker.io"] != Removed || got["quay.io"] != Restored || got["ghcr.io"] != KeptChanged || len(got) != 3 {
		t.Errorf("undo: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "docker.io")); !os.IsNotExist(err) {
		t.Errorf("the empty docker.io folder stays: %v", err)
	}
	if read(t, filepath.Join(dir, "quay.io", "hosts.toml")) != mine || read(t, filepath.Join(dir, "quay.io", "hosts.toml"+BackupSuffix)) != "<missing>" {
		t.Error("the user's quay.io hosts.toml is not back as it was")
	}
	if read(t, other) != mine || !strings.HasSuffix(read(t, changed), "# mine now\n") {
		t.Error("undo touched a file that is not hubmirror's")
	}
}

// A user's hosts.toml that already has a backup is not overwritten: a
// second backup would lose the first.
func TestContainerdKeepsTheFirstBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "docker.io", "hosts.toml")
	write(t, path, "mine\n")
	write(t, path+BackupSuffix, "older\n")
	if _, err := (Disk{}).ApplyContainerd(dir, map[string]string{"docker.io": hubBody}); err == nil || !strings.Contains(err.Error(), BackupSuffix) {
		t.Errorf("no error naming the backup: %v", err)
	}
	if read(t, path) != "mine\n" || read(t, path+BackupSuffix) != "older\n" {
		t.Error("files changed")
	}
	if _, err := (Disk{}).ApplyContainerd(dir, map[string]string{"../etc": hubBody}); err == nil {
		t.Error("a registry name that climbs out of the folder: no error")
	}
}

// CheckContainerd finds config_path in each config version's table and
// gives the lines for that version; it tells a missing file, the 2.x
// default, the deprecated mirrors, and bad TOML by its line.
func TestCheckContainerd(t *testing.T) {
	const dir = "/etc/containerd/certs.d"
	v2 := "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n"
	for _, tc := range []struct {
		name, text, dir string
		reads           bool
		version, line   int
		advice          string
	}{
		{"v2 reads it", v2, dir, true, 2, 3, "nothing to add"},
		{"v2 list", strings.Replace(v2, `"/etc/containerd/certs.d"`, `"/srv/certs:/etc/containerd/certs.d/"`, 1), dir, true, 2, 3, "nothing to add"},
		{"v2 other", v2, "/srv/certs", false, 2, 3, "Set it in the table at line 3 (config version 2):\n  config_path = \"/srv/certs\"\n"},
		{"v2 no table", "version = 2\nroot = \"/var/lib/containerd\"\n", dir, false, 2, 0,
			"Add these lines (config version 2):\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n"},
		{"v3 default", "version = 3\n", dir, true, 3, 0, "nothing to add"},
		{"v3 other dir", "version = 3\n", "/srv/certs", false, 3, 0,
			"[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"/srv/certs\"\n"},
		{"v3 set elsewhere", "version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\nconfig_path = '/x'\n", dir, false, 3, 0, "sets config_path = \"/x\""},
		{"v1", "# containerd 1.x, old\n", dir, false, 1, 0, "[plugins.cri.registry]\n  config_path = \"/etc/containerd/certs.d\"\n"},
		{"mirrors", "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\nendpoint = [\"http://x\"]\n", dir, false, 2, 0, "Remove registry.mirrors"},
	} {
		c, err := CheckContainerd("/etc/containerd/config.toml", []byte(tc.text), false, tc.dir)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.Reads != tc.reads || c.Version != tc.version || c.TableLine != tc.line {
			t.Errorf("%s: %+v", tc.name, c)
		}
		if a := c.Advice(i18n.English); !strings.Contains(a, tc.advice) {
			t.Errorf("%s: advice lacks %q:\n%s", tc.name, tc.advice, a)
		}
	}
	c, _ := CheckContainerd("/etc/containerd/config.toml", nil, true, dir)
	a := c.Advice(i18n.English)
	if !strings.Contains(a, "There is no /etc/containerd/config.toml") || !strings.Contains(a, Lines(2, dir)) || !strings.Contains(a, Lines(3, dir)) {
		t.Errorf("missing file:\n%s", a)
	}
	if _, err := CheckContainerd("c.toml", []byte("version = 2\n\nroot = \n"), false, dir); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad TOML: %v", err)
	}
	if _, err := CheckContainerd("c.toml", []byte("version = 9\n"), false, dir); err == nil {
		t.Error("version 9: no error")
	}
}

// The lines CheckContainerd hands out parse, and put config_path where
// CheckContainerd itself then finds it: what the user pastes works.
func TestLinesAreWhatCheckReads(t *testing.T) {
	for v := 1; v <= 3; v++ {
		text := Lines(v, "/srv/certs")
		if v > 1 {
			text = "version = " + string(rune('0'+v)) + "\n" + text
		}
		c, err := CheckContainerd("c.toml", []byte(text), false, "/srv/certs")
		if err != nil || !c.Reads {
			t.Errorf("version %d: %v %+v\n%s", v, err, c, text)
		}
	}
}
