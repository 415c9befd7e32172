//go:build !((linux || freebsd || openbsd || netbsd) && !android)

// Package traymenu is the desktop app's tray menu where the tray is a
// D-Bus StatusNotifierItem (Linux and the BSDs). Elsewhere Fyne's own
// tray menu is used, and New returns nil.
package traymenu

import "github.com/hubmirror/hubmirror/ui"

// New returns nil: here the tray menu is Fyne's.
func New(string) ui.TrayMenu {
	return nil
}
