//go:build (linux || freebsd || openbsd || netbsd) && !android

package traymenu

import (
	"fyne.io/systray"

	"github.com/hubmirror/hubmirror/ui"
)

// run serves the item on the D-Bus session bus, where systray needs no
// event loop of the caller's: items can be added before it starts. The
// connection goes when the process exits, which keeps clear of the crash
// in systray's shutdown (fyne-io/fyne#6403).
func run(m *Menu, ready func(ui.TrayMenu)) {
	ready(m)
	// Some hosts crash on an item without a title (fyne-io/fyne#3678).
	systray.SetTitle(m.title)
	start, _ := systray.RunWithExternalLoop(nil, nil)
	start()
	select {}
}
