//go:build (linux || freebsd || openbsd || netbsd) && !android

// Package traymenu is the desktop app's tray menu where the tray is a
// D-Bus StatusNotifierItem (Linux and the BSDs), built on systray
// directly. Fyne's own tray menu removes and re-adds every item on each
// change, so each change gives every item a new dbusmenu id; a Menu's
// items keep theirs, and only their labels and enabled states change.
//
// The tray's icon is still set through Fyne, which talks to the same
// systray. Only main imports this package: ui stays free of drivers.
package traymenu

import (
	"sync"

	"fyne.io/systray"

	"github.com/hubmirror/hubmirror/ui"
)

// Menu is the tray's menu, served over D-Bus once shown.
type Menu struct {
	title string

	mu    sync.Mutex
	items []*systray.MenuItem
	shown bool
}

// New returns an empty tray menu for an app called title. Nothing is on
// D-Bus until Show.
func New(title string) ui.TrayMenu {
	return &Menu{title: title}
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

// Show starts serving the tray item and its menu on the D-Bus session
// bus, once. Fyne's driver is not asked to run systray (that would reset
// the menu), so it does not stop it either: the connection goes when the
// process exits, which also keeps clear of the crash in systray's
// shutdown (fyne-io/fyne#6403).
func (m *Menu) Show() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shown {
		return
	}
	m.shown = true
	// Some hosts crash on an item without a title (fyne-io/fyne#3678).
	systray.SetTitle(m.title)
	start, _ := systray.RunWithExternalLoop(nil, nil)
	start()
}
