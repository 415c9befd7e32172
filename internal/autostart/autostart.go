// Package autostart keeps the platform's "open at login" entry for an app
// in line with a setting: an XDG autostart file on Linux and the BSDs, a
// LaunchAgent on macOS, a value under HKCU\…\Run on Windows.
package autostart

import (
	"errors"
	"fmt"
	"strings"
)

// Entry is what the platform starts at login.
type Entry struct {
	// ID is the app's reverse-DNS ID, e.g. "io.github.hubmirror"; it names
	// the file or the registry value.
	ID string
	// Name is the app's name as people see it.
	Name string
	// Args is the command: Args[0] is the program's absolute path.
	Args []string
}

// Set creates or updates the entry when on, and removes it when off (an
// entry that is not there is not an error).
func Set(e Entry, on bool) error {
	if err := e.check(); err != nil {
		return err
	}
	if on {
		if err := enable(e); err != nil {
			return fmt.Errorf("open at login: %w", err)
		}
		return nil
	}
	if err := disable(e); err != nil {
		return fmt.Errorf("open at login: %w", err)
	}
	return nil
}

func (e Entry) check() error {
	switch {
	case e.ID == "" || strings.ContainsAny(e.ID, `/\`+"\x00"):
		return fmt.Errorf("open at login: app ID %q: want a reverse-DNS name", e.ID)
	case len(e.Args) == 0 || e.Args[0] == "":
		return errors.New("open at login: no program to start")
	}
	return nil
}
