package ui

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/assets"
	"github.com/hubmirror/hubmirror/internal/mirror"
)

// Icons as Fyne resources.
var (
	appIcon     = fyne.NewStaticResource("hubmirror.png", assets.Icon)
	iconRunning = fyne.NewStaticResource("hubmirror-running.png", assets.TrayRunning)
	iconStopped = fyne.NewStaticResource("hubmirror-stopped.png", assets.TrayStopped)
	iconProblem = fyne.NewStaticResource("hubmirror-problem.png", assets.TrayProblem)
	iconFailed  = fyne.NewStaticResource("hubmirror-failed.png", assets.TrayFailed)
)

// App is hubmirror's tray menu and settings window. It keeps its widgets
// as fields so that tests can drive them. Its fields, but for quitting and
// tasks, are touched only on the Fyne thread; Backend calls run in
// goroutines and hand their results back with fyne.Do.
type App struct {
	app     fyne.App
	backend Backend

	status       mirror.Status // the last one applied
	actionErr    string        // the last Save, Start or Stop error; "" after a success
	lastNotified string        // the problem last sent as a desktop notification
	lastProblem  string        // the upstream problem last seen in a status

	tray     desktop.App   // nil until SetupTray sets the tray up
	trayIcon fyne.Resource // the icon the tray shows
	menu     *fyne.Menu
	// trayItems shows menu in the tray when SetupTrayMenu was given a
	// TrayMenu; nil otherwise.
	trayItems *trayItems
	// The tray menu's items, in menu order.
	statusItem, toggleItem, statusWinItem, settingsItem, cacheItem, setupItem, copyItem, browserItem, quitItem *fyne.MenuItem

	form *settingsForm // nil until ShowSettings first runs
	exit func()        // see ExitWith; nil: Fyne's own quit
	main *mainWindow   // nil until ShowMain first runs

	about   *aboutView // nil until ShowAbout first runs
	logView *logView   // nil until ShowLog first runs

	cache     *cacheView                  // nil until ShowCache first runs
	confirm   confirmFunc                 // asks before clearing; tests replace it
	setupWin  fyne.Window                 // nil until ShowSetup first runs
	setupCopy map[string][]*widget.Button // Setup's Copy buttons by client; for tests
	// Setup's Apply buttons and their results by client; for tests.
	setupApply   map[string]*widget.Button
	setupApplied map[string]*widget.Label

	// quitting is set by Quit: from then on the tray is left alone, as
	// Fyne takes it down when the app quits and touching it then panics.
	quitting atomic.Bool

	// do runs a function on the UI thread: fyne.Do, or in the tray
	// process (see WindowsElsewhere) a goroutine of u's own.
	do func(func())
	// windows opens u's windows in the window process; nil: u shows
	// them itself. See WindowsElsewhere.
	windows WindowOpener
	// wantMain is set in the tray process once the main window stands in
	// for the tray.
	wantMain       bool
	noTrayNotified bool // the notification on how to get a tray icon was sent
	// trayElsewhere, trayShown and idle are set in the window process;
	// see TrayElsewhere. visible holds the windows shown and not closed.
	trayElsewhere, trayShown bool
	idle                     func()
	visible                  map[fyne.Window]bool

	tasks       sync.WaitGroup // Backend calls running in goroutines
	savedFor    time.Duration  // how long "Saved" stays in the window
	afterStatus func()         // called after each Status is applied; for tests
	// afterSettings is called after each settings change is shown; for tests.
	afterSettings func()
}

// New sets the app's icon and builds the tray menu for the backend's
// current status. Nothing is shown until SetupTray or ShowSettings; main
// calls Watch to keep it up to date.
func New(a fyne.App, b Backend) *App {
	u := &App{app: a, backend: b, savedFor: 3 * time.Second, confirm: defaultConfirm, do: fyne.Do}
	a.SetIcon(appIcon)
	u.buildMenu()
	u.apply(b.Status())
	return u
}

// Quit stops the mirror, off the UI thread, then quits the app. It is safe
// to call from any goroutine, e.g. a signal handler. Status updates are
// ignored from then on.
func (u *App) Quit() {
	if u.quitting.Swap(true) {
		return
	}
	u.run(func() {
		if err := u.backend.Stop(); err != nil {
			fyne.LogError("stop the mirror", err)
		}
		if u.exit != nil {
			u.exit()
			return
		}
		fyne.Do(u.app.Quit)
	})
}

// ExitWith makes Quit end the process with exit once the mirror has
// stopped, instead of tearing Fyne's windows down: GLFW (Fyne v2.7.1) was
// seen to crash in a mouse event for a window being destroyed at quit,
// about one quit in ten under Xvfb. exit runs off the UI thread.
func (u *App) ExitWith(exit func()) { u.exit = exit }

// Watch subscribes to the backend's status and settings updates and
// applies each one to the tray and the window on the Fyne thread. main calls it once; stop
// unsubscribes and returns once no further update will be handed to
// fyne.Do.
func (u *App) Watch() (stop func()) {
	stopSettings := u.watchSettings()
	updates, cancel := u.backend.Subscribe()
	stopStatus := forwardToUI(u, updates, cancel, u.apply)
	return func() {
		stopStatus()
		stopSettings()
	}
}

// forwardToUI hands each value from updates to apply on the Fyne thread
// until the app quits. stop calls cancel and returns once no further value
// will be handed to fyne.Do.
func forwardToUI[T any](u *App, updates <-chan T, cancel func(), apply func(T)) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case v, ok := <-updates:
				if !ok {
					return
				}
				if !u.quitting.Load() {
					u.do(func() { apply(v) })
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			close(done)
			<-finished
		})
	}
}

// apply shows st in the tray and the window and sends a notification for
// a new failure.
func (u *App) apply(st mirror.Status) {
	if u.quitting.Load() {
		return
	}
	if st.PortTaken {
		st.Err = portTakenMessage(st.Listen) // names the window's setting
	}
	u.status = st
	switch {
	case st.State == mirror.Running:
		u.lastNotified = "" // the same failure later is news again
	case st.State == mirror.Failed && st.Err != "":
		u.notify(st.Err)
	}
	if st.UpstreamProblem != u.lastProblem {
		// A new upstream problem is news once; its end makes the next one news.
		u.lastProblem = st.UpstreamProblem
		if st.UpstreamProblem != "" {
			u.sendNotification(tr(st.UpstreamProblem))
		}
	}
	u.updateTray()
	u.showStatus() // the main window's figures, if it was built
	if u.form != nil {
		u.updateBanner()
	}
	if u.afterStatus != nil {
		u.afterStatus()
	}
}

// notify sends msg as a desktop notification unless it was the last one
// sent.
func (u *App) notify(msg string) {
	if msg == u.lastNotified {
		return
	}
	u.lastNotified = msg
	u.sendNotification(msg)
}

// sendNotification shows msg as a desktop notification, unless the tray
// process sends them (TrayElsewhere).
func (u *App) sendNotification(msg string) {
	if u.trayElsewhere {
		return
	}
	u.app.SendNotification(fyne.NewNotification("hubmirror", msg))
}

// start and stop run the mirror's Start and Stop off the UI thread. A
// Start error goes to the banner and, once, to a notification.
func (u *App) start() { u.startOrStop(u.backend.Start, true) }
func (u *App) stop()  { u.startOrStop(u.backend.Stop, false) }

func (u *App) startOrStop(call func() error, starting bool) {
	u.toggleItem.Disabled = true
	u.refreshMenu()
	u.run(func() {
		err := call()
		u.do(func() {
			if u.quitting.Load() {
				return
			}
			u.toggleItem.Disabled = false
			u.refreshMenu()
			u.actionErr = ""
			if err != nil {
				u.actionErr = err.Error()
				if errors.Is(err, mirror.ErrAddrInUse) {
					u.actionErr = portTakenMessage(u.backend.Settings().Listen)
				}
				if starting {
					u.notify(u.actionErr)
				}
			}
			if u.form != nil {
				u.updateBanner()
			}
		})
	})
}

// run calls fn in a goroutine. fn must hand widget changes to fyne.Do.
// Tests wait for such goroutines with wait.
func (u *App) run(fn func()) {
	u.tasks.Go(fn)
}

// wait returns when every goroutine started by run has returned. With
// Fyne's test driver, fyne.Do runs its function at once, so the widgets
// then show the results too.
func (u *App) wait() {
	u.tasks.Wait()
}
