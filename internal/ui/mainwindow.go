package ui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

// mainWindow is the app's status window: the status line, the mirror's
// live figures and a button for each of the tray menu's actions. It
// stands in for the tray where no tray host shows the icon, and is the
// tray's "Status…" elsewhere.
type mainWindow struct {
	win     fyne.Window
	status  *widget.Label
	buttons []*widget.Button // in menu order
	items   []*fyne.MenuItem // the tray menu item behind each button

	// The live figures; the settings window has none, as they are not
	// settings.
	requests, fromCache, fromUpstream, inFlight, cached, pullsLeft *widget.Label

	// ask asks, when the window is closed, whether to quit; tests
	// replace it.
	ask func(parent fyne.Window, answer func(quit bool))
}

// ShowWithoutTray shows the main window, for a desktop where no tray host
// shows hubmirror's icon, and says once in a notification how to get one.
func (u *App) ShowWithoutTray() {
	u.wantMain = true
	u.ShowMain()
	if !u.noTrayNotified && !u.trayElsewhere {
		u.noTrayNotified = true
		u.app.SendNotification(fyne.NewNotification("hubmirror", tr("This desktop shows no tray icons, so hubmirror shows its window instead. On GNOME, install the “AppIndicator and KStatusNotifierItem Support” extension to get the tray icon.")))
	}
}

// ShowFront shows the window a later launch brings forward: the main
// window once it is in use (a desktop without a tray), else Settings.
func (u *App) ShowFront() {
	if u.main != nil || u.wantMain {
		u.ShowMain()
		return
	}
	u.ShowSettings()
}

// ShowMain shows the main window, building it on first use.
func (u *App) ShowMain() {
	if u.openElsewhere(WindowMain) {
		return
	}
	first := u.main == nil
	if first {
		u.main = u.buildMain()
	}
	u.refreshMain()
	u.showWin(u.main.win)
	if first {
		// Sized again once shown: a window made while the Fyne loop runs
		// came out about one line taller than its content at first.
		u.main.win.Resize(fyne.NewSize(420, u.main.win.Content().MinSize().Height))
	}
}

// buildMain makes the main window from the tray menu's items, so that it
// offers the same actions under the same labels.
func (u *App) buildMain() *mainWindow {
	m := &mainWindow{win: u.app.NewWindow("hubmirror"), ask: askQuit}
	m.win.SetIcon(appIcon)
	m.status = widget.NewLabel(u.statusItem.Label)
	m.status.Wrapping = fyne.TextWrapWord
	for _, l := range []**widget.Label{&m.requests, &m.fromCache, &m.fromUpstream, &m.inFlight, &m.cached, &m.pullsLeft} {
		*l = widget.NewLabel("")
	}
	m.cached.Wrapping = fyne.TextWrapWord
	figures := widget.NewForm(
		widget.NewFormItem(tr("Requests"), m.requests),
		widget.NewFormItem(tr("Sent from the cache"), m.fromCache),
		widget.NewFormItem(tr("Sent from Docker Hub"), m.fromUpstream),
		widget.NewFormItem(tr("Downloads in flight"), m.inFlight),
		widget.NewFormItem(tr("Cache"), m.cached),
		widget.NewFormItem(tr("Docker Hub pulls left"), m.pullsLeft),
	)
	// The status line, the actions, then the figures: the buttons keep
	// their places whatever the figures' labels take.
	box := container.NewVBox(m.status, widget.NewSeparator())
	for _, it := range u.menu.Items {
		if it.IsSeparator || it == u.statusItem || it == u.statusWinItem { // this window shows both
			continue
		}
		b := widget.NewButton(it.Label, it.Action)
		m.buttons = append(m.buttons, b)
		m.items = append(m.items, it)
		box.Add(b)
	}
	box.Add(widget.NewSeparator())
	box.Add(figures)
	m.win.SetContent(box)
	m.win.Resize(fyne.NewSize(420, 0))
	m.win.SetCloseIntercept(func() {
		if u.HasTray() {
			// The tray is the way back in: closing just hides.
			u.hideWin(m.win)
			return
		}
		m.ask(m.win, func(quit bool) {
			if quit {
				u.hideAndQuit()
				return
			}
			u.hideWin(m.win)
		})
	})
	return m
}

// refreshMain shows the tray menu's current labels and enabled states in
// the main window, if it was built.
func (u *App) refreshMain() {
	m := u.main
	if m == nil {
		return
	}
	m.status.SetText(u.statusItem.Label)
	u.showStatus()
	for i, b := range m.buttons {
		it := m.items[i]
		if b.Text != it.Label {
			b.SetText(it.Label)
		}
		if it.Disabled && !b.Disabled() {
			b.Disable()
		} else if !it.Disabled && b.Disabled() {
			b.Enable()
		}
	}
}

// showStatus shows u.status's figures in the main window, if it was
// built: requests, bytes sent, downloads, cache use with its hit rate and
// Docker Hub's allowance.
func (u *App) showStatus() {
	m := u.main
	if m == nil {
		return
	}
	st := u.status
	m.requests.SetText(fmt.Sprint(st.Requests))
	m.fromCache.SetText(mirror.FormatBytes(st.BytesFromCache))
	m.fromUpstream.SetText(mirror.FormatBytes(st.BytesFromUpstream))
	m.inFlight.SetText(fmt.Sprint(st.DownloadsInFlight))
	cached := mirror.FormatBytes(st.CacheBytes) + " " + tr("on disk")
	if rate, ok := hitRate(st.Counters); ok {
		cached += " · " + rate + " " + tr("of requests served from it")
	}
	m.cached.SetText(cached)
	m.pullsLeft.SetText(pullsLeft(st.DockerHubPullsLeft))
}

// hideAndQuit hides the windows, then quits: GLFW was seen to crash at
// quit while the pointer was over a window being destroyed. It is the
// tray's and the main window's Quit.
func (u *App) hideAndQuit() {
	for _, w := range u.app.Driver().AllWindows() {
		w.Hide()
	}
	if u.main != nil {
		u.main.win.Hide()
	}
	u.Quit()
}

// askQuit asks whether to quit hubmirror or keep it running without the
// window.
func askQuit(parent fyne.Window, answer func(quit bool)) {
	d := dialog.NewConfirm(tr("Quit hubmirror?"),
		tr("Quit stops the mirror. Keep running hides this window and the mirror goes on serving; start hubmirror again to show the window."),
		answer, parent)
	d.SetConfirmText(tr(labelQuit))
	d.SetDismissText(tr("Keep running"))
	d.Show()
}
