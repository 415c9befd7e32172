//go:build unix && !darwin

package autostart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestXDGFile: on writes $XDG_CONFIG_HOME/autostart/<id>.desktop whose
// Exec runs the program, quoted per the Desktop Entry spec; off removes it.
func TestXDGFile(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	e := Entry{ID: "io.github.hubmirror", Name: "hubmirror", Args: []string{"/opt/hub mirror/bin/hubmirror", "--config", `/home/a"b/100%$x.json`}}
	if err := Set(e, true); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg, "autostart", "hubmirror.desktop")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `Exec="/opt/hub mirror/bin/hubmirror" --config "/home/a\\"b/100%%\\$x.json"`
	if !strings.Contains(string(raw), "\n"+want+"\n") {
		t.Errorf("the file has no line %s:\n%s", want, raw)
	}
	for _, line := range []string{"[Desktop Entry]", "Type=Application", "Name=hubmirror"} {
		if !strings.Contains(string(raw), line+"\n") {
			t.Errorf("the file has no line %s:\n%s", line, raw)
		}
	}
	if err := Set(e, true); err != nil {
		t.Fatalf("on twice: %v", err)
	}
	if err := Set(e, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("after off: %v, want no file", err)
	}
	if err := Set(e, false); err != nil {
		t.Fatalf("off twice: %v", err)
	}
}

// TestXDGFallback: without XDG_CONFIG_HOME the file goes in ~/.config.
func TestXDGFallback(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	if err := Set(Entry{ID: "io.github.hubmirror", Name: "hubmirror", Args: []string{"/bin/hubmirror"}}, true); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(home, ".config", "autostart", "hubmirror.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "\nExec=/bin/hubmirror\n") {
		t.Errorf("Exec line missing:\n%s", raw)
	}
}

// TestExecQuoting follows the spec's rules case by case.
func TestExecQuoting(t *testing.T) {
	for arg, want := range map[string]string{
		"/usr/bin/hubmirror": "/usr/bin/hubmirror",
		"/a b":               `"/a b"`,
		`/a\b`:               `"/a\\\\b"`,
		"/a`b":               "\"/a\\\\`b\"",
		"/a%b":               "/a%%b",
		"/a'b":               `"/a'b"`,
		"/a\nb":              `"/a\nb"`,
	} {
		if got := execArg(arg); got != want {
			t.Errorf("execArg(%q) = %s, want %s", arg, got, want)
		}
	}
}

// TestBadEntry: an entry without an ID or program is refused.
func TestBadEntry(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, e := range []Entry{{Name: "x", Args: []string{"/x"}}, {ID: "../x", Args: []string{"/x"}}, {ID: "a.b"}} {
		if err := Set(e, true); err == nil {
			t.Errorf("Set(%+v) succeeded", e)
		}
	}
}
