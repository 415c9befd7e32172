package clientconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// listDir is the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// On disk, apply backs up the old file, records what it did and keeps the
// file's mode; a second apply writes nothing at all (not even a backup);
// undo gives the original back and clears up its record and backup.
func TestDockerOnDisk(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.json")
	orig := daemonFiles["four spaces"]
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	var d Disk
	ch, err := d.ApplyDocker(path, lan)
	if err != nil || ch.Action != Wrote || ch.Backup != path+BackupSuffix {
		t.Fatal(err, ch)
	}
	applied := read(t, path)
	if read(t, ch.Backup) != orig {
		t.Error("the backup is not the old file")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, was 0600", fi.Mode().Perm())
	}
	if err := os.Remove(ch.Backup); err != nil {
		t.Fatal(err)
	}
	writes := 0
	counting := Disk{WriteFile: func(p string, b []byte, m fs.FileMode) error { writes++; return WriteAtomic(p, b, m) }}
	if ch, err := counting.ApplyDocker(path, lan); err != nil || ch.Action != Unchanged || writes != 0 {
		t.Errorf("second apply: %v %+v, %d writes", err, ch, writes)
	}
	if read(t, path) != applied || read(t, path+BackupSuffix) != "<missing>" {
		t.Error("second apply changed the file or wrote a backup")
	}
	os.WriteFile(path+BackupSuffix, []byte(orig), 0o600)
	if ch, err := d.UndoDocker(path); err != nil || ch.Action != Wrote {
		t.Fatal(err, ch)
	}
	if read(t, path) != orig {
		t.Errorf("undo gave\n%s", read(t, path))
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("left behind: %v", names)
	}
	if ch, err := d.UndoDocker(path); err != nil || ch.Action != NothingToUndo {
		t.Errorf("undo again: %v %+v", err, ch)
	}
}

// A daemon.json apply made (there was none) goes on undo, folder contents
// and all, as if apply had never run; a later apply with another address
// replaces hubmirror's mirror rather than adding a second, and keeps the
// first backup.
func TestDockerOnDiskNewFileAndNewAddress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "docker", "daemon.json")
	var d Disk
	if ch, err := d.ApplyDocker(path, local); err != nil || ch.Backup != "" {
		t.Fatal(err, ch)
	}
	if ch, err := d.ApplyDocker(path, lan); err != nil || ch.Action != Wrote || ch.Backup != "" {
		t.Fatal(err, ch)
	}
	vals, _ := members(t, []byte(read(t, path)))
	if got := strs(t, vals[mirrorsKey]); len(got) != 1 || got[0] != lan.Mirror {
		t.Errorf("mirrors %v", got)
	}
	if ch, err := d.UndoDocker(path); err != nil || ch.Action != Removed {
		t.Fatal(err, ch)
	}
	if names := listDir(t, filepath.Dir(path)); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}

	user := filepath.Join(dir, "user.json")
	os.WriteFile(user, []byte(`{"debug": true}`), 0o644)
	d.ApplyDocker(user, local)
	d.ApplyDocker(user, lan)
	if read(t, user+BackupSuffix) != `{"debug": true}` {
		t.Errorf("the second apply replaced the first backup: %s", read(t, user+BackupSuffix))
	}
	d.UndoDocker(user)
	if read(t, user) != `{"debug": true}` || len(listDir(t, dir)) != 2 {
		t.Errorf("undo after two applies: %s %v", read(t, user), listDir(t, dir))
	}
}

// A file that cannot be written is an fs.ErrPermission error (which the
// command turns into the sudo line), with nothing written at all; bad JSON
// is an error naming the file and line, with nothing written either.
func TestDockerOnDiskNoRights(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.json")
	orig := daemonFiles["two spaces"]
	os.WriteFile(path, []byte(orig), 0o644)
	var tried []string
	denied := Disk{WriteFile: func(p string, _ []byte, _ fs.FileMode) error {
		tried = append(tried, p)
		return &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}}
	_, err := denied.ApplyDocker(path, lan)
	if !errors.Is(err, fs.ErrPermission) || len(tried) == 0 {
		t.Errorf("%v (tried %v)", err, tried)
	}
	if read(t, path) != orig || len(listDir(t, dir)) != 1 {
		t.Error("something was written")
	}
	os.WriteFile(path, []byte("{\n  \"debug\": true\n  \"x\": 1\n}\n"), 0o644)
	tried = nil
	_, err = denied.ApplyDocker(path, lan)
	if err == nil || !strings.Contains(err.Error(), path+": line 3:") || len(tried) != 0 {
		t.Errorf("bad JSON: %v (tried %v)", err, tried)
	}
}

// WriteAtomic, for real: a folder the user may not write to gives
// fs.ErrPermission and leaves the file as it was. Root writes anywhere,
// so there this case cannot be made and is skipped (the injected
// WriteFile above covers the command's side).
func TestWriteAtomicNoRights(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write into a 0500 folder")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "daemon.json")
	os.WriteFile(path, []byte("{}"), 0o644)
	os.Chmod(dir, 0o500)
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if err := WriteAtomic(path, []byte(`{"a":1}`), 0o644); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Errorf("%v", err)
	}
	if read(t, path) != "{}" {
		t.Error("the file changed")
	}
}

// WriteAtomic replaces the file whole, keeps its mode, names the file in
// errors (not its temporary), and leaves no temporary behind, also when it
// fails.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("old"), 0o640)
	if err := WriteAtomic(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); read(t, path) != "new" || fi.Mode().Perm() != 0o640 {
		t.Errorf("%q %v", read(t, path), fi.Mode())
	}
	if err := WriteAtomic(filepath.Join(dir, "new", "g"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "new", "g")); fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v", fi.Mode())
	}
	// A folder in the way of the file: the rename fails.
	blocked := filepath.Join(dir, "blocked")
	os.MkdirAll(filepath.Join(blocked, "x"), 0o755)
	err := WriteAtomic(blocked, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), blocked) || strings.Contains(err.Error(), ".tmp-") {
		t.Errorf("%v", err)
	}
	for _, name := range listDir(t, dir) {
		if strings.Contains(name, ".tmp-") {
			t.Errorf("left a temporary file: %s", name)
		}
	}
}
