package ui

import "fyne.io/fyne/v2"

// TrayMenu is a system tray menu whose items are changed in place. Fyne's
// SetSystemTrayMenu removes every item and adds new ones on each refresh,
// so over D-Bus (com.canonical.dbusmenu) each change of the status line
// gives every item a new id, and a click sent with an id read a moment
// earlier is dropped. A TrayMenu's items keep their identity for the life
// of the app. main supplies one built on systray where the tray is a
// D-Bus StatusNotifierItem (internal/traymenu).
type TrayMenu interface {
	// AddItem appends an item and returns its index: items are numbered
	// from 0 in the order added, separators not counted. onClick runs
	// for each click on the item, on a goroutine of the menu's.
	AddItem(label string, disabled bool, onClick func()) int
	// AddSeparator appends a separator line.
	AddSeparator()
	// SetItem changes item i's label and enabled state in place.
	SetItem(i int, label string, disabled bool)
	// Show puts the menu, with the items added so far, in the tray.
	Show()
	// SetTooltip sets the text shown when the pointer rests on the tray
	// item.
	SetTooltip(text string)
}

// trayItems keeps a TrayMenu in step with the app's *fyne.Menu, whose
// items stay the model that the rest of the app changes.
type trayItems struct {
	menu  TrayMenu
	items []trayItem // by the TrayMenu's index
	tip   string     // the tooltip shown
	tipOK bool       // a tooltip was set
}

// tooltip shows text as the tray item's tooltip unless it shows it.
func (t *trayItems) tooltip(text string) {
	if t.tipOK && text == t.tip {
		return
	}
	t.tip, t.tipOK = text, true
	t.menu.SetTooltip(text)
}

// trayItem is one fyne.MenuItem and what its TrayMenu item shows.
type trayItem struct {
	item     *fyne.MenuItem
	label    string
	disabled bool
}

// newTrayItems adds menu's items to m, once. Submenus are not supported:
// the tray menu has none.
func newTrayItems(m TrayMenu, menu *fyne.Menu, do func(func())) *trayItems {
	t := &trayItems{menu: m}
	for _, it := range menu.Items {
		if it.IsSeparator {
			m.AddSeparator()
			continue
		}
		i := m.AddItem(it.Label, it.Disabled, func() {
			// The action is read on the Fyne thread, when it runs.
			do(func() {
				if it.Action != nil {
					it.Action()
				}
			})
		})
		for len(t.items) <= i {
			t.items = append(t.items, trayItem{})
		}
		t.items[i] = trayItem{item: it, label: it.Label, disabled: it.Disabled}
	}
	return t
}

// refresh shows the items' current labels and enabled states, changing
// only the items that changed.
func (t *trayItems) refresh() {
	for i := range t.items {
		shown := &t.items[i]
		if shown.item == nil || (shown.item.Label == shown.label && shown.item.Disabled == shown.disabled) {
			continue
		}
		shown.label, shown.disabled = shown.item.Label, shown.item.Disabled
		t.menu.SetItem(i, shown.label, shown.disabled)
	}
}
