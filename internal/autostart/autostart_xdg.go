//go:build unix && !darwin

package autostart

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// The XDG Autostart spec: a desktop entry in $XDG_CONFIG_HOME/autostart
// (default ~/.config/autostart) is started when the user logs in
// (https://specifications.freedesktop.org/autostart-spec/latest/).

// path is $XDG_CONFIG_HOME/autostart/<name>.desktop (hubmirror.desktop, the
// name users' scripts know). The spec says a relative XDG_CONFIG_HOME is to
// be ignored.
func path(name string) (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "autostart", name+".desktop"), nil
}

// fileName names the entry's file: the app's name, else its ID.
func fileName(e Entry) string {
	if e.Name != "" {
		return e.Name
	}
	return e.ID
}

func enable(e Entry) error {
	p, err := path(fileName(e))
	if err != nil {
		return err
	}
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = execArg(a)
	}
	name := e.Name
	if name == "" {
		name = e.ID
	}
	body := "[Desktop Entry]\nType=Application\nName=" + escapeString(name) +
		"\nExec=" + strings.Join(args, " ") + "\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
	return writeFile(p, body)
}

func disable(e Entry) error {
	p, err := path(fileName(e))
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// reserved are the characters that make an Exec argument need quotes
// (Desktop Entry spec, "The Exec key").
const reserved = " \t\n\"'\\><~|&;$*?#()`"

// execArg writes one argument of an Exec value: quoted when it holds a
// reserved character, with '"', '`', '$' and '\' escaped inside the
// quotes; '%' doubled, as it starts field codes; then the escapes every
// string value gets ('\' doubled, newline as \n), which the spec applies
// before the quoting rule when reading.
func execArg(a string) string {
	if strings.ContainsAny(a, reserved) {
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range a {
			if strings.ContainsRune("\"`$\\", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		b.WriteByte('"')
		a = b.String()
	}
	return escapeString(strings.ReplaceAll(a, "%", "%%"))
}

// escapeString applies the escapes of a string value (spec, "Possible
// value types"): backslash, newline, tab and carriage return.
func escapeString(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
}

// writeFile replaces p with body through a temp file and a rename, so a
// session starting meanwhile never reads half an entry.
func writeFile(p, body string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".autostart-*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
