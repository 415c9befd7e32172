//go:build !nogui && (linux || freebsd || openbsd || netbsd)

package desktop

import (
	"log/slog"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"github.com/godbus/dbus/v5"

	"github.com/hubmirror/hubmirror/internal/identity"
)

// xdgNotifier sends a fyne.App's notifications itself, over the session
// bus (the Desktop Notifications spec's org.freedesktop.Notifications.Notify):
// Fyne v2.7.1 sends them with expire_timeout 0, which the spec defines as
// "never expires", so they piled up until dismissed by hand, and it writes
// "Fyne error" lines when no notification server runs. Here they expire as
// the server's default says (-1), each replaces the previous one (the
// newest problem is what counts), the desktop entry is named so that the
// server shows the app's name and icon, and a failure is one log line.
type xdgNotifier struct {
	fyne.App
	log *slog.Logger

	mu     sync.Mutex
	lastID uint32 // the server's id of the last notification shown
	failed bool   // a failure was logged already
}

// notifyTimeout is the spec's "as the server decides".
const notifyTimeout = int32(-1)

// SendNotification shows n through the session bus's notification server.
func (a *xdgNotifier) SendNotification(n *fyne.Notification) {
	conn, err := dbus.SessionBus() // shared; not closed
	if err == nil {
		a.mu.Lock()
		replaces := a.lastID
		a.mu.Unlock()
		hints := map[string]dbus.Variant{"desktop-entry": dbus.MakeVariant(identity.AppID)}
		call := conn.Object("org.freedesktop.Notifications", "/org/freedesktop/Notifications").Call(
			"org.freedesktop.Notifications.Notify", 0,
			identity.Name, replaces, identity.AppID, n.Title, n.Content, []string{}, hints, notifyTimeout)
		var id uint32
		if err = call.Store(&id); err == nil {
			a.mu.Lock()
			a.lastID = id
			a.mu.Unlock()
			return
		}
	}
	a.mu.Lock()
	first := !a.failed
	a.failed = true
	a.mu.Unlock()
	if first { // once: there may be no notification server at all
		a.log.Warn("desktop notifications cannot be shown", "err", err, "title", n.Title, "content", n.Content)
	} else {
		a.log.Info("notification", "title", n.Title, "content", n.Content)
	}
}

// The tray's icon goes through the wrapped app, which is a desktop.App.
func (a *xdgNotifier) SetSystemTrayMenu(m *fyne.Menu) {
	if d, ok := a.App.(desktop.App); ok {
		d.SetSystemTrayMenu(m)
	}
}

func (a *xdgNotifier) SetSystemTrayIcon(r fyne.Resource) {
	if d, ok := a.App.(desktop.App); ok {
		d.SetSystemTrayIcon(r)
	}
}

func (a *xdgNotifier) SetSystemTrayWindow(w fyne.Window) {
	if d, ok := a.App.(desktop.App); ok {
		d.SetSystemTrayWindow(w)
	}
}

// withNotifier returns a with its notifications sent by xdgNotifier.
func withNotifier(a fyne.App, log *slog.Logger) fyne.App {
	return &xdgNotifier{App: a, log: log}
}
