package ui

import (
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
)

// The tray menu's labels. An end-to-end test finds the items by label
// over D-Bus, so they are a contract.
const (
	labelStart    = "Start"
	labelStop     = "Stop"
	labelSettings = "Settings…"
	labelSetup    = "Set up clients…"
	labelCache    = "Cache…"
	labelCopy     = "Copy Docker setup"
	labelBrowser  = "Open in browser"
	labelQuit     = "Quit"
	labelAbout    = aboutTitle
	labelLog      = "Show log"
	labelStatus   = "Status…"
)

// buildMenu makes the tray menu: a status line, then the actions.
func (u *App) buildMenu() {
	u.statusItem = &fyne.MenuItem{Label: tr("Stopped"), Disabled: true}
	u.toggleItem = fyne.NewMenuItem(tr(labelStart), func() {
		if u.status.State == mirror.Running {
			u.stop()
		} else {
			u.start()
		}
	})
	u.statusWinItem = fyne.NewMenuItem(tr(labelStatus), u.ShowMain)
	u.settingsItem = fyne.NewMenuItem(tr(labelSettings), u.ShowSettings)
	u.setupItem = fyne.NewMenuItem(tr(labelSetup), u.ShowSetup)
	u.cacheItem = fyne.NewMenuItem(tr(labelCache), u.ShowCache)
	u.copyItem = fyne.NewMenuItem(tr(labelCopy), u.copyDockerSetup)
	u.browserItem = fyne.NewMenuItem(tr(labelBrowser), u.openBrowser)
	u.quitItem = fyne.NewMenuItem(tr(labelQuit), u.hideAndQuit)
	u.quitItem.IsQuit = true
	u.menu = fyne.NewMenu("hubmirror",
		u.statusItem, u.toggleItem, fyne.NewMenuItemSeparator(),
		u.statusWinItem, u.settingsItem, u.cacheItem, u.setupItem, u.copyItem, u.browserItem, fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem(tr(labelLog), u.ShowLog), fyne.NewMenuItem(tr(labelAbout), u.ShowAbout), fyne.NewMenuItemSeparator(),
		u.quitItem)
}

// SetupTray puts the icon and menu in the system tray when the app is a
// desktop.App that can have one; otherwise it does nothing. On Linux and
// the BSDs the tray needs a D-Bus session: without one it is not set up,
// because systray crashes on quit then (fyne-io/fyne#6403).
//
// Fyne rebuilds a tray menu from scratch on every change, giving each item
// a new identity; SetupTrayMenu keeps them.
func (u *App) SetupTray() {
	u.SetupTrayMenu(nil)
}

// SetupTrayMenu is SetupTray with the menu's items in m, which changes
// them in place as the status changes, so that they keep their identity
// (over D-Bus, their dbusmenu ids) and a click on an item a moment after
// a change still reaches it. With m nil the menu goes to Fyne's
// SetSystemTrayMenu. The icon is set through Fyne either way.
func (u *App) SetupTrayMenu(m TrayMenu) {
	desk, ok := u.app.(desktop.App)
	if !ok || !trayPossible() {
		return
	}
	u.tray = desk
	u.trayIcon = nil
	if m == nil {
		u.updateTray()
		desk.SetSystemTrayMenu(u.menu)
		return
	}
	u.trayItems = newTrayItems(m, u.menu, u.do)
	u.updateTray()
	m.Show()
}

// HasTray reports whether SetupTray put hubmirror in the system tray. When
// it did not, main should show the settings window instead.
func (u *App) HasTray() bool {
	return u.tray != nil || u.trayShown
}

func trayPossible() bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return os.Getenv("DBUS_SESSION_BUS_ADDRESS") != ""
}

// updateTray shows u.status in the tray icon and menu, refreshing the menu
// only when a label changed: counters change several times a second.
func (u *App) updateTray() {
	icon := trayIcon(u.status)
	toggle := tr(labelStart)
	if u.status.State == mirror.Running {
		toggle = tr(labelStop)
	}
	if u.tray != nil && u.trayIcon != icon {
		u.trayIcon = icon
		u.tray.SetSystemTrayIcon(icon)
	}
	line := statusLine(u.status)
	if u.trayItems != nil {
		u.trayItems.tooltip("hubmirror: " + line)
	}
	if line == u.statusItem.Label && toggle == u.toggleItem.Label {
		return
	}
	u.statusItem.Label, u.toggleItem.Label = line, toggle
	u.refreshMenu()
}

// trayIcon is the icon for st: green running, amber running with a
// problem, grey stopped, red failed.
func trayIcon(st mirror.Status) fyne.Resource {
	switch {
	case st.State == mirror.Running && st.UpstreamProblem != "":
		return iconProblem
	case st.State == mirror.Running:
		return iconRunning
	case st.State == mirror.Failed:
		return iconFailed
	}
	return iconStopped
}

// refreshMenu shows the menu items' current labels and enabled states in
// the main window and the tray: in place when the tray has a TrayMenu,
// else by Fyne's rebuild.
func (u *App) refreshMenu() {
	u.refreshMain()
	if u.trayItems != nil {
		u.trayItems.refresh()
		return
	}
	u.menu.Refresh()
}

// statusLine sums st up in a line, e.g. "Running on 127.0.0.1:5000 ·
// 2.1 GB cached · 91% from cache".
func statusLine(st mirror.Status) string {
	switch st.State {
	case mirror.Running:
		line := tr("Running on") + " " + st.Addr + " · " + mirror.FormatBytes(st.CacheBytes) + " " + tr("cached")
		if rate, ok := hitRate(st.Counters); ok {
			line += " · " + rate + " " + tr("from cache")
		}
		if st.UpstreamProblem != "" {
			// The first problem's first clause; the window has them all.
			first, _, _ := strings.Cut(st.UpstreamProblem, "\n")
			line += " · " + tr("Problem:") + " " + shortReason(tr(first))
		}
		return line
	case mirror.Failed:
		return tr("Failed:") + " " + shortReason(tr(st.Err))
	}
	return tr("Stopped")
}

// portTakenMessage says, for the window and the tray, that the listen
// address is taken and where to change it; AirPlay Receiver, which holds
// port 5000, only on macOS.
func portTakenMessage(listen string) string {
	msg := fmt.Sprintf(tr("%s is taken by another program; choose another port in Settings, “Listen address” (for example 127.0.0.1:5001), and Save."), listen)
	if runtime.GOOS == "darwin" {
		msg += " " + tr("On macOS, AirPlay Receiver holds port 5000: turn it off in System Settings.")
	}
	return msg
}

// mirrorAddr is the host:port clients reach the mirror on: where it
// listens, or where it will listen, with a wildcard host replaced by
// loopback.
func (u *App) mirrorAddr() string {
	addr := u.status.Addr
	if addr == "" {
		addr = u.backend.Settings().Listen
	}
	return clientsetup.ClientHost(addr)
}

// copyDockerSetup puts the daemon.json snippet for this OS's engine on the
// clipboard (the Docker Desktop form on macOS and Windows, the Linux
// engine's elsewhere): the same one the landing page and `hubmirror setup
// docker` show. Then it shows the Set up clients window on its Docker tab,
// saying for a few seconds what was copied.
func (u *App) copyDockerSetup() {
	if u.openElsewhere(WindowCopyDocker) {
		return
	}
	sn, ok := dockerSetup(setupLang(), u.mirrorAddr(), runtime.GOOS)
	if !ok {
		return
	}
	u.app.Clipboard().SetContent(sn.Text)
	notice := tr("Copied the Docker setup for Docker Engine on Linux")
	if sn.Engine == clientsetup.VMEngine {
		notice = tr("Copied the Docker setup for Docker Desktop")
	}
	u.showSetup(notice)
}

// dockerSetup is the daemon.json snippet for the engine Docker users on
// goos have, for a mirror at addr.
func dockerSetup(l i18n.Lang, addr, goos string) (clientsetup.Snippet, bool) {
	snips, err := clientsetup.Snippets(l, "docker", addr, nil)
	if err != nil {
		return clientsetup.Snippet{}, false
	}
	for _, sn := range clientsetup.ForEngine(snips, clientsetup.EngineFor(goos)) {
		if sn.Lang == "json" {
			return sn, true
		}
	}
	return clientsetup.Snippet{}, false
}

func (u *App) openBrowser() {
	link := &url.URL{Scheme: "http", Host: u.mirrorAddr(), Path: "/"}
	if err := u.app.OpenURL(link); err != nil {
		fyne.LogError("open "+link.String(), err)
	}
}
