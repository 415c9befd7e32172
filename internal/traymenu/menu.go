//go:build (linux || freebsd || openbsd || netbsd || darwin || windows) && !android && !ios

// Package traymenu is the desktop app's tray menu, built on systray
// directly: the tray process runs no Fyne event loop (see ui's split.go),
// so it cannot use Fyne's tray menu. Fyne's menu would also remove and
// re-add every item on each change, so over D-Bus each change would give
// every item a new dbusmenu id; a Menu's items keep theirs, and only
// their labels and enabled states change.
//
// The tray's icon is still set through Fyne, which talks to the same
// systray. Only main imports this package: ui stays free of drivers.
package traymenu

import (
	"sync"

	"fyne.io/systray"

	"github.com/hubmirror/hubmirror/internal/ui"
)

// Menu is the tray's menu, served over D-Bus once shown.
type Menu struct {
	title string

	mu    sync.Mutex
	items []*systray.MenuItem
}

// Run shows the tray item of an app called title, calls ready with its
// empty menu once items can be added, and then serves the tray until the
// process exits: it does not return. Call it on the main goroutine (on
// macOS the tray's event loop must run on the main thread).
func Run(title string, ready func(ui.TrayMenu)) {
	run(&Menu{title: title}, ready)
}

// AddItem appends an item; onClick runs for each click on it, on the
// item's goroutine. See ui.TrayMenu.
func (m *Menu) AddItem(label string, disabled bool, onClick func()) int {
	item := systray.AddMenuItem(label, "")
	if disabled {
		item.Disable()
	}
	// systray drops a click that finds nobody receiving, so onClick must
	// return quickly (ui hands the action to fyne.Do).
	go func() {
		for range item.ClickedCh {
			onClick()
		}
	}()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items = append(m.items, item)
	return len(m.items) - 1
}

// AddSeparator appends a separator line.
func (m *Menu) AddSeparator() {
	systray.AddSeparator()
}

// SetItem changes item i's label and enabled state; its id stays.
func (m *Menu) SetItem(i int, label string, disabled bool) {
	m.mu.Lock()
	item := m.items[i]
	m.mu.Unlock()
	item.SetTitle(label)
	if disabled {
		item.Disable()
	} else {
		item.Enable()
	}
}

// SetTooltip sets the tray item's tooltip.
func (m *Menu) SetTooltip(text string) {
	systray.SetTooltip(text)
}

// Show does nothing: Run serves the tray item and its menu.
func (m *Menu) Show() {}
