//go:build windows

package autostart

import (
	"errors"
	"strings"
	"syscall"

	"golang.org/x/sys/windows/registry"
)

// runKey lists the programs Windows starts when this user logs on
// (https://learn.microsoft.com/windows/win32/setupapi/run-and-runonce-registry-keys).
// A value's data is a command line of at most 260 characters; the value
// name is the entry's ID.
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

func enable(e Entry) error {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = syscall.EscapeArg(a) // CommandLineToArgvW's quoting
	}
	cmd := strings.Join(args, " ")
	if len(cmd) > 260 {
		return errors.New("the command line is longer than the 260 characters a Run value may hold")
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.SetStringValue(e.ID, cmd)
}

func disable(e Entry) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(e.ID); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}
