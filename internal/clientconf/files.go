package clientconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// The files kept next to a client's file.
const (
	// BackupSuffix names the copy of a file from before --apply changed it.
	BackupSuffix = ".hubmirror-backup"
	// RecordSuffix names the record of what --apply changed in a
	// daemon.json, which --undo reads.
	RecordSuffix = ".hubmirror"
)

// Disk is how the Apply and Undo methods change files. Its zero value is
// the real disk, each write atomic; tests set WriteFile to act as a user
// without the rights to a file, whatever user they run as.
type Disk struct {
	// WriteFile replaces path with data, mode perm, all at once or not at
	// all; nil means WriteAtomic.
	WriteFile func(path string, data []byte, perm fs.FileMode) error
	// Remove removes a file or an empty folder; nil means os.Remove.
	Remove func(path string) error
}

// write is d's WriteFile.
func (d Disk) write(path string, data []byte, perm fs.FileMode) error {
	if d.WriteFile != nil {
		return d.WriteFile(path, data, perm)
	}
	return WriteAtomic(path, data, perm)
}

// remove is d's Remove.
func (d Disk) remove(path string) error {
	if d.Remove != nil {
		return d.Remove(path)
	}
	return os.Remove(path)
}

// WriteAtomic replaces path with data so that readers see the old file or
// the new one, never a part: a temporary file in the same folder, synced,
// then renamed over path. The folder is made if missing. An existing
// file's mode and owner carry over; a new file gets perm. Errors name path,
// not the temporary file.
func WriteAtomic(path string, data []byte, perm fs.FileMode) (err error) {
	defer func() {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			err = &fs.PathError{Op: "write", Path: path, Err: pe.Err}
		case errors.As(err, &le):
			err = &fs.PathError{Op: "write", Path: path, Err: le.Err}
		}
	}()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, statErr := os.Stat(path)
	if statErr == nil {
		perm = old.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if statErr == nil {
		sameOwner(f, old)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	syncDir(dir)
	return nil
}

// syncDir flushes dir's entries, so that the rename survives a crash.
// Where folders cannot be synced (Windows) the rename stands as it is.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// readOptional is path's contents, or missing when there is no such file.
func readOptional(path string) (data []byte, missing bool, err error) {
	data, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	return data, false, err
}

// modeOf is path's permission bits, or def when it does not exist.
func modeOf(path string, def fs.FileMode) fs.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().Perm()
	}
	return def
}

// Action is what Apply or Undo did to one file.
type Action int

// The actions.
const (
	// Unchanged: the file was already as it should be; nothing written.
	Unchanged Action = iota
	// Wrote: the file was written (made, or changed).
	Wrote
	// Removed: the file was removed.
	Removed
	// Restored: the file was put back as it was before (its backup).
	Restored
	// KeptChanged: hubmirror wrote the file, but someone changed it since,
	// so Undo left it.
	KeptChanged
	// NothingToUndo: there was nothing of hubmirror's in the file.
	NothingToUndo
)

// Change is what happened to one file.
type Change struct {
	Path   string
	Action Action
	// Backup is the copy of the old file Apply wrote, "" when none.
	Backup string
	// Seed is the file a new file started as a copy of, "" when none.
	Seed string
}

// wrap names path in err, leaving a missing permission recognisable
// (errors.Is(err, fs.ErrPermission)).
func wrap(path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err // it names its path already
	}
	return fmt.Errorf("%s: %w", path, err)
}

// readRecord reads the record of a daemon.json's --apply; ok is false when
// there is none.
func readRecord(path string) (rec DockerRecord, ok bool, err error) {
	data, missing, err := readOptional(path)
	if err != nil || missing {
		return DockerRecord{}, false, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return DockerRecord{}, false, fmt.Errorf("%s: %w", path, syntaxError(data, err))
	}
	return rec, true, nil
}

// ApplyDocker puts want into the daemon.json at path (making it if need
// be), backing up the old file as path+BackupSuffix (the file from before
// the first apply: a later one keeps that backup) and recording what it
// changed in path+RecordSuffix. When path already holds an earlier
// --apply, that is taken back first, so that a second apply with the same
// mirror changes nothing (the file stays byte for byte, no new backup) and
// one with another mirror replaces hubmirror's entry instead of adding a
// second.
func (d Disk) ApplyDocker(path string, want Docker) (Change, error) {
	ch := Change{Path: path}
	old, missing, err := readOptional(path)
	if err != nil {
		return ch, err
	}
	prev, hadRecord, err := readRecord(path + RecordSuffix)
	if err != nil {
		return ch, err
	}
	base := old
	if hadRecord {
		undone, gone, err := UndoDocker(old, prev)
		if err != nil {
			return ch, fmt.Errorf("%s: %w", path, err)
		}
		base = undone
		if gone {
			base = nil
		}
	}
	out, rec, err := ApplyDocker(base, want)
	if err != nil {
		return ch, fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, old) && !missing {
		return ch, nil
	}
	recText, _ := json.MarshalIndent(rec, "", "  ") // a plain struct always marshals
	if !missing && !hadRecord {                     // a later apply keeps the file from before the first
		ch.Backup = path + BackupSuffix
		if err := d.write(ch.Backup, old, modeOf(path, 0o644)); err != nil {
			return Change{Path: path}, wrap(ch.Backup, err)
		}
	}
	if err := d.write(path+RecordSuffix, append(recText, '\n'), 0o644); err != nil {
		return Change{Path: path}, wrap(path+RecordSuffix, err)
	}
	if err := d.write(path, out, 0o644); err != nil {
		return Change{Path: path}, wrap(path, err)
	}
	ch.Action = Wrote
	return ch, nil
}

// UndoDocker takes back what ApplyDocker recorded for the daemon.json at
// path, and removes the record; the backup goes too when it holds exactly
// what the file is now.
func (d Disk) UndoDocker(path string) (Change, error) {
	ch := Change{Path: path, Action: NothingToUndo}
	rec, ok, err := readRecord(path + RecordSuffix)
	if err != nil || !ok {
		return ch, err
	}
	cur, missing, err := readOptional(path)
	if err != nil {
		return ch, err
	}
	backup := path + BackupSuffix
	saved, noBackup, err := readOptional(backup)
	if err != nil {
		return ch, err
	}
	if !missing {
		out, gone, err := UndoDocker(cur, rec)
		if err != nil {
			return ch, fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case gone && noBackup:
			err, ch.Action = d.remove(path), Removed
		case gone:
			out, ch.Action = saved, Restored
			err = d.write(path, out, 0o644)
		case !bytes.Equal(out, cur):
			err, ch.Action = d.write(path, out, 0o644), Wrote
		default:
			ch.Action = Unchanged
		}
		if err != nil {
			return Change{Path: path}, wrap(path, err)
		}
		if !noBackup && bytes.Equal(saved, out) && !gone {
			if err := d.remove(backup); err != nil {
				return ch, wrap(backup, err)
			}
		}
	}
	return ch, wrap(path+RecordSuffix, d.remove(path+RecordSuffix))
}

// hostsPath is registry r's hosts.toml under dir; r must be one folder
// name, as registry host names are.
func hostsPath(dir, r string) (string, error) {
	if r == "" || r == "." || r == ".." || strings.ContainsAny(r, `/\`) {
		return "", fmt.Errorf(i18n.Key("%q is not a registry name"), r)
	}
	return filepath.Join(dir, r, "hosts.toml"), nil
}

// ApplyContainerd writes one hosts.toml per registry under dir, the text
// hosts gives for it (the containerd snippets') after hubmirror's marker.
// A file already as it should be is left alone; one hubmirror wrote and
// nobody changed is replaced; the user's own is backed up first (and the
// backup restored by UndoContainerd). A user's file that already has a
// backup is an error: a second backup would lose the first.
func (d Disk) ApplyContainerd(dir string, hosts map[string]string) ([]Change, error) {
	var out []Change
	regs := make([]string, 0, len(hosts))
	for r := range hosts {
		regs = append(regs, r)
	}
	slices.Sort(regs)
	for _, r := range regs {
		path, err := hostsPath(dir, r)
		if err != nil {
			return out, err
		}
		ch, err := d.applyHosts(path, HostsFile(hosts[r]))
		if err != nil {
			return out, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// applyHosts puts want at path, as ApplyContainerd says.
func (d Disk) applyHosts(path string, want []byte) (Change, error) {
	ch := Change{Path: path}
	cur, missing, err := readOptional(path)
	if err != nil || (!missing && bytes.Equal(cur, want)) {
		return ch, err
	}
	if !missing && StateOfHosts(cur) != HostsOurs {
		ch.Backup = path + BackupSuffix
		if _, err := os.Lstat(ch.Backup); err == nil {
			return Change{Path: path}, fmt.Errorf(i18n.Key("%s is not the one hubmirror wrote, and %s exists already: move one of them away first"), path, ch.Backup)
		}
		if err := d.write(ch.Backup, cur, modeOf(path, 0o644)); err != nil {
			return Change{Path: path}, wrap(ch.Backup, err)
		}
	}
	if err := d.write(path, want, 0o644); err != nil {
		return Change{Path: path}, wrap(path, err)
	}
	ch.Action = Wrote
	return ch, nil
}

// UndoContainerd removes each hosts.toml under dir that hubmirror wrote
// and nobody changed since (whatever registries the settings name now),
// putting back the user's file where ApplyContainerd backed one up, and the
// registry's folder when that leaves it empty. A file changed since is
// kept and reported.
func (d Disk) UndoContainerd(dir string) ([]Change, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Change
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name(), "hosts.toml")
		cur, missing, err := readOptional(path)
		if err != nil {
			return out, err
		}
		if missing {
			continue
		}
		switch StateOfHosts(cur) {
		case HostsForeign:
			continue
		case HostsChanged:
			out = append(out, Change{Path: path, Action: KeptChanged})
			continue
		}
		ch, err := d.undoHosts(path)
		if err != nil {
			return out, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// undoHosts removes hubmirror's hosts.toml at path, or puts the user's
// back from its backup.
func (d Disk) undoHosts(path string) (Change, error) {
	backup := path + BackupSuffix
	saved, missing, err := readOptional(backup)
	if err != nil {
		return Change{Path: path}, err
	}
	if !missing {
		if err := d.write(path, saved, modeOf(backup, 0o644)); err != nil {
			return Change{Path: path}, wrap(path, err)
		}
		return Change{Path: path, Action: Restored}, wrap(backup, d.remove(backup))
	}
	if err := d.remove(path); err != nil {
		return Change{Path: path}, wrap(path, err)
	}
	d.remove(filepath.Dir(path)) // only when empty: a folder with the user's certificates stays
	return Change{Path: path, Action: Removed}, nil
}

// ApplyPodman puts entries (the podman snippet's [[registry]] tables) into
// hubmirror's block of the registries.conf at path. A missing file starts
// as a copy of seed when seed names a file (rootless podman reads the
// user's registries.conf instead of the system's, not as well as it), else
// empty.
func (d Disk) ApplyPodman(path, entries, seed string) (Change, error) {
	ch := Change{Path: path}
	old, missing, err := readOptional(path)
	if err != nil {
		return ch, err
	}
	start := old
	if missing && seed != "" && seed != path {
		s, noSeed, err := readOptional(seed)
		if err != nil {
			return ch, err
		}
		if !noSeed {
			start, ch.Seed = s, seed
		}
	}
	out, err := ApplyPodman(start, entries, missing)
	if err != nil {
		name := path
		if ch.Seed != "" {
			name = seed
		}
		return Change{Path: path}, fmt.Errorf("%s: %w", name, err)
	}
	if !missing && bytes.Equal(out, old) {
		return ch, nil
	}
	if err := d.write(path, out, 0o644); err != nil {
		return Change{Path: path}, wrap(path, err)
	}
	ch.Action = Wrote
	return ch, nil
}

// UndoPodman removes hubmirror's block from the registries.conf at path,
// and the file itself when ApplyPodman made it and what is left is what
// it started as (nothing, or seed as it is now).
func (d Disk) UndoPodman(path, seed string) (Change, error) {
	ch := Change{Path: path, Action: NothingToUndo}
	cur, missing, err := readOptional(path)
	if err != nil || missing {
		return ch, err
	}
	out, found, made, err := UndoPodman(cur)
	if err != nil {
		return ch, fmt.Errorf("%s: %w", path, err)
	}
	if !found {
		return ch, nil
	}
	if made {
		s, _, _ := readOptional(seed) // a missing or unreadable seed compares as nothing
		if isBlank(out) || (seed != "" && seed != path && bytes.Equal(out, s)) {
			return Change{Path: path, Action: Removed}, wrap(path, d.remove(path))
		}
	}
	if err := d.write(path, out, 0o644); err != nil {
		return Change{Path: path}, wrap(path, err)
	}
	return Change{Path: path, Action: Wrote}, nil
}
