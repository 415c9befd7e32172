//go:build !((linux || freebsd || openbsd || netbsd || darwin || windows) && !android && !ios)

// Package traymenu is the desktop app's tray menu. This system has no
// tray that systray supports.
package traymenu

import "github.com/hubmirror/hubmirror/internal/ui"

// Run calls ready with a nil menu and blocks: there is no tray here.
func Run(_ string, ready func(ui.TrayMenu)) {
	ready(nil)
	select {}
}
