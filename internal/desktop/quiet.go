//go:build !nogui

package desktop

import (
	"io"
	"log"
	"log/slog"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
)

// withoutBus returns a, with notifications that expire where they go over a
// D-Bus session (withNotifier), or, where there is no session, a with SendNotification writing to the log instead: Fyne
// would fail to reach the bus and print "Fyne error" lines on every
// notification. The app then has no tray either (it is not a desktop.App),
// as systray needs the bus too.
func withoutBus(a fyne.App, log *slog.Logger) fyne.App {
	switch runtime.GOOS {
	case "darwin", "windows", "android", "ios":
		return a
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return withNotifier(a, log)
	}
	return buslessApp{App: a, log: log}
}

// buslessApp is a fyne.App whose notifications go to the log.
type buslessApp struct {
	fyne.App
	log *slog.Logger
}

// SendNotification logs n: with no D-Bus session nothing can show it.
func (a buslessApp) SendNotification(n *fyne.Notification) {
	a.log.Info("notification (no D-Bus session to show it)", "title", n.Title, "content", n.Content)
}

// quietExit silences the standard log package once the app stops. Only Fyne
// writes to it here (hubmirror logs through slog), and at exit Fyne v2.7.1
// saves its preferences file while its own watcher of that file reloads it,
// which logs "Fyne error: Preferences load error: EOF" now and then.
func quietExit(a fyne.App) {
	a.Lifecycle().SetOnStopped(func() { log.SetOutput(io.Discard) })
}
