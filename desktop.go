//go:build !nogui

package main

import (
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"fyne.io/fyne/v2/app"

	// Before Fyne's init: a locale Fyne cannot parse (C.UTF-8) would make
	// every command print "Fyne error" lines. See its package doc.
	"github.com/hubmirror/hubmirror/internal/identity"
	_ "github.com/hubmirror/hubmirror/internal/localeenv"
	"github.com/hubmirror/hubmirror/internal/traymenu"
	"github.com/hubmirror/hubmirror/ui"
)

// guiBuilt is true: this build has the desktop app.
const guiBuilt = true

// appID is the desktop app's ID, as in FyneApp.toml.
const appID = identity.AppID

// runDesktop runs the tray app until Quit. On Linux the tray needs a D-Bus
// session (and systray crashes on quit without one, fyne-io/fyne#6403);
// without one, or with no tray host on it, the main window stands in for
// the tray.
func runDesktop(b *backend) error {
	show, release, running := claimInstance(b)
	if running {
		return nil
	}
	defer release()
	closeLog := openLogFile(b)
	defer closeLog()
	defer keepOpenAtLogin(b)()
	// From here on SIGINT and SIGTERM quit the app cleanly, even when they
	// come while the first window is being shown.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	setWindowClass()
	a := app.NewWithID(appID)
	quietExit(a)
	u := ui.New(withoutBus(a, b.log), b)
	showOnRequest(show, u)
	u.ExitWith(func() {
		release()
		closeLog()
		os.Exit(0)
	})
	stopWatch := u.Watch()
	defer stopWatch()
	switch {
	case runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "":
		b.log.Warn("no D-Bus session, so no tray icon: the main window stays open instead")
		u.ShowWithoutTray()
	case !traymenu.HostPresent():
		// The item still registers: a tray host that comes later shows it.
		u.SetupTrayMenu(traymenu.New(identity.Name))
		b.log.Warn("no tray host on the session bus (org.kde.StatusNotifierWatcher), so the main window is open")
		u.ShowWithoutTray()
	default:
		u.SetupTrayMenu(traymenu.New(identity.Name))
		b.log.Info("tray host found: hubmirror is in the tray")
	}
	if b.Settings().StartOnLaunch {
		go func() {
			if err := b.Start(); err != nil {
				b.log.Error("the mirror did not start", "err", err)
			}
		}()
	}
	go func() {
		if _, ok := <-sig; ok {
			u.Quit()
		}
	}()
	b.log.Info("hubmirror desktop app started", "version", version)
	a.Run()
	return b.Stop()
}
