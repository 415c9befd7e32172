//go:build darwin || windows

package traymenu

import (
	"fyne.io/systray"

	"github.com/hubmirror/hubmirror/internal/ui"
)

// run runs systray's own event loop on the calling goroutine. Items can
// only be added once the tray is ready: on Windows AddMenuItem fails
// before (ErrTrayNotReadyYet), so ready runs from systray's onReady.
// systray.Run returns only after systray.Quit, which hubmirror never
// calls: it exits the process instead.
func run(m *Menu, ready func(ui.TrayMenu)) {
	systray.Run(func() {
		systray.SetTooltip(m.title)
		ready(m)
	}, nil)
	select {}
}
