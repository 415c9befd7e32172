package ui

import "fyne.io/fyne/v2"

// The desktop app runs in two processes, so that while it sits in the
// tray no GL context, window or Fyne event loop costs memory or wakes the
// CPU: the tray process holds the mirror and the tray icon and runs no
// Fyne loop; the window process, started when a window is wanted, runs
// Fyne and exits when its last window closes. Both build an App: the tray
// process calls WindowsElsewhere, the window process TrayElsewhere.

// Window names: what the tray process asks the window process to show.
const (
	WindowSettings   = "settings"
	WindowCache      = "cache"
	WindowSetup      = "setup"
	WindowAbout      = "about"
	WindowLog        = "log"
	WindowMain       = "main"
	WindowCopyDocker = "copy-docker" // copy the Docker setup, show Set up clients
)

// WindowOpener shows a window in the window process, starting it when
// none runs. Open must not block.
type WindowOpener interface {
	Open(name string)
}

// WindowsElsewhere makes u the tray process's App: its windows open
// through w, and tray updates run one at a time on a goroutine of u's own
// instead of through fyne.Do, as no Fyne event loop runs here.
func (u *App) WindowsElsewhere(w WindowOpener) {
	u.windows = w
	u.do = serial()
}

// TrayElsewhere makes u the window process's App: the tray is another
// process's (trayShown says whether a tray host shows it), which also
// sends the notifications, and idle is called on the Fyne thread each
// time the last of u's windows is closed.
func (u *App) TrayElsewhere(trayShown bool, idle func()) {
	u.trayElsewhere, u.trayShown, u.idle = true, trayShown, idle
}

// Do runs fn on u's UI thread: through fyne.Do, or in the tray process on
// u's own goroutine.
func (u *App) Do(fn func()) { u.do(fn) }

// ShowWindow shows the window called name, as the tray process asked.
func (u *App) ShowWindow(name string) {
	switch name {
	case WindowSettings:
		u.ShowSettings()
	case WindowCache:
		u.ShowCache()
	case WindowSetup:
		u.ShowSetup()
	case WindowAbout:
		u.ShowAbout()
	case WindowLog:
		u.ShowLog()
	case WindowMain:
		u.ShowMain()
	case WindowCopyDocker: // copies, then shows Set up clients saying so
		u.copyDockerSetup()
	default:
		fyne.LogError("show window", errUnknownWindow(name))
		if len(u.visible) == 0 && u.idle != nil {
			u.idle()
		}
	}
}

// errUnknownWindow is the error for a window name ShowWindow does not know.
type errUnknownWindow string

func (e errUnknownWindow) Error() string { return "no window called " + string(e) }

// openElsewhere asks the window process for the window called name and
// reports true in the tray process; elsewhere it reports false and the
// caller shows the window itself.
func (u *App) openElsewhere(name string) bool {
	if u.windows == nil {
		return false
	}
	u.windows.Open(name)
	return true
}

// showWin shows w and counts it as open.
func (u *App) showWin(w fyne.Window) {
	if u.visible == nil {
		u.visible = map[fyne.Window]bool{}
	}
	u.visible[w] = true
	w.Show()
	w.RequestFocus()
}

// hideWin hides w; when it was the last open window of a window process,
// idle is told.
func (u *App) hideWin(w fyne.Window) {
	w.Hide()
	if !u.visible[w] {
		return
	}
	delete(u.visible, w)
	if len(u.visible) == 0 && u.idle != nil {
		u.idle()
	}
}

// serial returns a fyne.Do for a process without a Fyne loop: functions
// run one at a time, in order, on one goroutine.
func serial() func(func()) {
	queue := make(chan func(), 64)
	go func() {
		for fn := range queue {
			fn()
		}
	}()
	return func(fn func()) { queue <- fn }
}
