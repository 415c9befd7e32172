//go:build !nogui

// Package desktop is hubmirror's desktop app: the tray process, which
// holds the mirror (an app.Backend) and the tray item, and the window
// process (`hubmirror window`), which shows internal/ui's windows for it;
// the single-instance claim, open at login, the log file, desktop
// notifications and the app's identity on the desktop. With ui it is the
// only package that imports Fyne; in a build with -tags nogui it has only
// NoDisplay, and Run and Window fail.
package desktop

import (
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	fyneapp "fyne.io/fyne/v2/app"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/identity"
	// Before Fyne's init: a locale Fyne cannot parse (C.UTF-8) would make
	// every command print "Fyne error" lines. See its package doc.
	_ "github.com/hubmirror/hubmirror/internal/localeenv"
	"github.com/hubmirror/hubmirror/internal/traymenu"
	"github.com/hubmirror/hubmirror/internal/ui"
	"github.com/hubmirror/hubmirror/internal/uiremote"
	"github.com/hubmirror/hubmirror/internal/version"
)

// Built is true: this build has the desktop app.
const Built = true

// appID is the desktop app's ID, as in FyneApp.toml.
const appID = identity.AppID

// Options are what the desktop app takes from the command line that
// starts it.
type Options struct {
	// ApplySetup is `hubmirror setup CLIENT --apply` for the mirror as it
	// runs now, with the default files: the Set up clients window's Apply.
	ApplySetup func(client string) (report string, err error)
	// Exit ends the process at once with a status. Quit ends the app with
	// it: the tray (and, in the window process, Fyne's event loop) holds
	// the main goroutine, on macOS the main thread, until the process
	// ends, and Fyne's windows are not torn down first (ui.App.ExitWith
	// says why).
	Exit func(code int)
}

// Run runs the tray app on b until Quit, which ends the process through
// opts.Exit: this process holds the mirror and the tray item and runs no
// Fyne event loop, so that idle it costs next to nothing; the windows
// open in a window process (`hubmirror window`, Window) started when one
// is wanted, which reaches this one over the instance socket and exits
// when its last window closes. When the app runs already, Run asks it to
// show its window and returns nil.
//
// On Linux the tray needs a D-Bus session (and systray crashes on quit
// without one, fyne-io/fyne#6403); without one, or with no tray host on
// it, the main window stands in for the tray.
func Run(b *app.Backend, opts Options) error {
	in, show, release, running := claimInstance(b)
	if running {
		return nil
	}
	defer release()
	stopWatch := b.WatchInBackground()
	defer stopWatch()
	closeLog := openLogFile(b)
	defer closeLog()
	defer keepOpenAtLogin(b)()
	// From here on SIGINT and SIGTERM quit the app cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	log := b.Log()
	noBus := runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == ""
	hostPresent := !noBus && traymenu.HostPresent()
	// The Fyne app is never run here: it sends notifications, opens URLs
	// and sets the tray icon, none of which needs its loop.
	a := fyneapp.NewWithID(appID)
	back := uiBackend{Backend: b, applySetup: opts.ApplySetup}
	u := ui.New(withoutBus(a, log), back)
	windows := uiremote.NewWindows(spawnWindowProcess(hostPresent), log)
	u.WindowsElsewhere(windows)
	if in != nil {
		in.Serve(uiremote.NewHandler(back, quitter{u}, windows))
	}
	showOnRequest(show, u)
	u.ExitWith(func() {
		windows.Close()
		release()
		closeLog()
		opts.Exit(0)
	})
	stopUI := u.Watch()
	defer stopUI()
	if b.Settings().StartOnLaunch {
		go func() {
			if err := b.Start(); err != nil {
				log.Error("the mirror did not start", "err", err)
			}
		}()
	}
	go func() {
		if _, ok := <-sig; ok {
			u.Quit()
		}
	}()
	log.Info("hubmirror desktop app started", "version", version.String())
	switch {
	case noBus:
		log.Warn("no D-Bus session, so no tray icon: the main window stays open instead")
		u.Do(u.ShowWithoutTray)
		select {} // until Quit ends the process
	case !hostPresent:
		// The item still registers: a tray host that comes later shows it.
		log.Warn("no tray host on the session bus (org.kde.StatusNotifierWatcher), so the main window is open")
		traymenu.Run(identity.Name, func(m ui.TrayMenu) {
			doAndWait(u, func() {
				u.SetupTrayMenu(m)
				u.ShowWithoutTray()
			})
		})
	default:
		log.Info("tray host found: hubmirror is in the tray")
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
