//go:build !nogui

package main

import (
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"fyne.io/fyne/v2/app"

	// Before Fyne's init: a locale Fyne cannot parse (C.UTF-8) would make
	// every command print "Fyne error" lines. See its package doc.
	"github.com/hubmirror/hubmirror/internal/identity"
	_ "github.com/hubmirror/hubmirror/internal/localeenv"
	"github.com/hubmirror/hubmirror/internal/traymenu"
	"github.com/hubmirror/hubmirror/internal/ui"
	"github.com/hubmirror/hubmirror/internal/uiremote"
)

// guiBuilt is true: this build has the desktop app.
const guiBuilt = true

// appID is the desktop app's ID, as in FyneApp.toml.
const appID = identity.AppID

// runDesktop runs the tray app until Quit: this process holds the mirror
// and the tray item and runs no Fyne event loop, so that idle it costs
// next to nothing; the windows open in a window process (`hubmirror
// window`, windowCmd) started when one is wanted, which reaches this one
// over the instance socket and exits when its last window closes.
//
// On Linux the tray needs a D-Bus session (and systray crashes on quit
// without one, fyne-io/fyne#6403); without one, or with no tray host on
// it, the main window stands in for the tray.
func runDesktop(b *backend) error {
	in, show, release, running := claimInstance(b)
	if running {
		return nil
	}
	defer release()
	closeLog := openLogFile(b)
	defer closeLog()
	defer keepOpenAtLogin(b)()
	// From here on SIGINT and SIGTERM quit the app cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	noBus := runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == ""
	hostPresent := !noBus && traymenu.HostPresent()
	// The Fyne app is never run here: it sends notifications, opens URLs
	// and sets the tray icon, none of which needs its loop.
	a := app.NewWithID(appID)
	u := ui.New(withoutBus(a, b.log), uiBackend{b})
	windows := uiremote.NewWindows(spawnWindowProcess(hostPresent), b.log)
	u.WindowsElsewhere(windows)
	if in != nil {
		in.Serve(uiremote.NewHandler(uiBackend{b}, quitter{u}, windows))
	}
	showOnRequest(show, u)
	u.ExitWith(func() {
		windows.Close()
		release()
		closeLog()
		os.Exit(0)
	})
	stopWatch := u.Watch()
	defer stopWatch()
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
	switch {
	case noBus:
		b.log.Warn("no D-Bus session, so no tray icon: the main window stays open instead")
		u.Do(u.ShowWithoutTray)
		select {} // until Quit ends the process
	case !hostPresent:
		// The item still registers: a tray host that comes later shows it.
		b.log.Warn("no tray host on the session bus (org.kde.StatusNotifierWatcher), so the main window is open")
		traymenu.Run(identity.Name, func(m ui.TrayMenu) {
			doAndWait(u, func() {
				u.SetupTrayMenu(m)
				u.ShowWithoutTray()
			})
		})
	default:
		b.log.Info("tray host found: hubmirror is in the tray")
		traymenu.Run(identity.Name, func(m ui.TrayMenu) {
			doAndWait(u, func() { u.SetupTrayMenu(m) })
		})
	}
	return nil // not reached: traymenu.Run serves until Quit ends the process
}

// doAndWait runs fn on u's UI goroutine and returns once it has run.
func doAndWait(u *ui.App, fn func()) {
	done := make(chan struct{})
	u.Do(func() {
		defer close(done)
		fn()
	})
	<-done
}

// quitter lets the window process quit the app.
type quitter struct{ u *ui.App }

func (q quitter) Quit() { q.u.Quit() }

// spawnWindowProcess returns how to start a window process: this binary
// as `hubmirror window`, told whether a tray host shows the tray item.
func spawnWindowProcess(trayShown bool) func() (*exec.Cmd, error) {
	return func() (*exec.Cmd, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		arg := "--tray-shown=false"
		if trayShown {
			arg = "--tray-shown=true"
		}
		cmd := exec.Command(exe, "window", arg)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return cmd, nil
	}
}
