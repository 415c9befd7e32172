package logfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A write that would take the file past its limit first moves it to
// name.1 (name.1 to name.2, and so on); the oldest is dropped, so at most
// keep files remain, each at most maxBytes (but for a single larger line).
func TestFileRotatesBySize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "app.log")
	f, err := Open(path, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for i := range 20 {
		line := fmt.Sprintf("line %02d %s\n", i, strings.Repeat("x", 30)) // 39 bytes
		lines = append(lines, line)
		if _, err := f.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{ // two lines a file: a third would pass 100 bytes
		path:        lines[18] + lines[19],
		path + ".1": lines[16] + lines[17],
		path + ".2": lines[14] + lines[15],
	}
	for p, w := range want {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != w {
			t.Errorf("%s = %q, want %q", filepath.Base(p), got, w)
		}
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
	if len(files) != 3 {
		t.Errorf("files %q, want 3", files)
	}
}

// The log file is readable by its owner only, even when it existed with a
// looser mode, and so are the files it rotates to and its new directory.
func TestFileIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	path := filepath.Join(dir, "app.log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return info.Mode().Perm()
	}
	f, err := Open(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if m := mode(path); m != 0o600 {
		t.Errorf("an existing log has mode %v after Open, want 0600", m)
	}
	if _, err := f.Write([]byte("a longer line\n")); err != nil { // rotates
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".1"} {
		if m := mode(p); m != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), m)
		}
	}
	fresh := filepath.Join(t.TempDir(), "new", "app.log")
	g, err := Open(fresh, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if m := mode(filepath.Dir(fresh)); m != 0o700 {
		t.Errorf("new directory has mode %v, want 0700", m)
	}
}

// Reopening appends: a restart of the app keeps the earlier lines, and the
// size already written counts toward the limit.
func TestFileAppendsOnReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	for _, s := range []string{"one\n", "two\n"} {
		f, err := Open(path, 9, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != "one\ntwo\n" {
		t.Errorf("after two runs %q", got)
	}
	f, err := Open(path, 9, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("three\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path + ".1"); string(got) != "one\ntwo\n" {
		t.Errorf("rotated %q, want the first runs' lines", got)
	}
}

func TestTail(t *testing.T) {
	dir := t.TempDir()
	var all []string
	var buf bytes.Buffer
	for i := range 5000 {
		s := fmt.Sprintf("time=x level=INFO msg=\"line %d\" %s", i, strings.Repeat("y", i%90))
		all = append(all, s)
		buf.WriteString(s + "\n")
	}
	big := filepath.Join(dir, "big.log")
	if err := os.WriteFile(big, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.log")
	if err := os.WriteFile(small, []byte("a\nb\nc"), 0o600); err != nil { // no final newline
		t.Fatal(err)
	}
	split := filepath.Join(dir, "split.log") // just rotated
	if err := os.WriteFile(split+".1", []byte("old1\nold2\nold3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(split, []byte("new1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		n    int
		want []string
	}{
		{"last lines of a big file", big, 200, all[len(all)-200:]},
		{"one line", big, 1, all[len(all)-1:]},
		{"fewer lines than asked", small, 10, []string{"a", "b", "c"}},
		{"from the rotated file too", split, 3, []string{"old2", "old3", "new1"}},
		{"empty", empty, 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Tail(tc.path, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %d lines %q…, want %d", len(got), got[:min(len(got), 3)], len(tc.want))
			}
		})
	}
	if _, err := Tail(filepath.Join(dir, "missing.log"), 10); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
}

func TestDefaultDir(t *testing.T) {
	dir, err := Dir("hubmirror")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(dir) || !strings.Contains(dir, "hubmirror") {
		t.Errorf("Dir = %q, want an absolute path naming the app", dir)
	}
}
