//go:build (linux || freebsd || openbsd || netbsd) && !android

package traymenu

import (
	"fyne.io/systray"

	"github.com/hubmirror/hubmirror/internal/ui"
)

// run serves the item on the D-Bus session bus, where systray needs no
// event loop of the caller's. It starts serving first and only then hands
// the menu to ready: items added and changed afterwards are announced to
// the host as layout updates, and none of those changes can run while
// systray's start still sets up its connection (the race detector caught
// a status update reading it half made). The connection goes when the
// process exits, which keeps clear of the crash in systray's shutdown
// (fyne-io/fyne#6403).
func run(m *Menu, ready func(ui.TrayMenu)) {
	// Some hosts crash on an item without a title (fyne-io/fyne#3678).
	systray.SetTitle(m.title)
	start, _ := systray.RunWithExternalLoop(nil, nil)
	start()
	ready(m)
	select {}
}
