//go:build !nogui

package desktop

import (
	"context"
	"fmt"
	"net"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/hubmirror/hubmirror/internal/instance"
	"github.com/hubmirror/hubmirror/internal/ui"
	"github.com/hubmirror/hubmirror/internal/uiremote"
)

// Window is `hubmirror window`, the desktop app's window process: the
// tray process (Run) starts it when a window is wanted, saying whether a
// tray host shows the tray item. It runs Fyne with the tray process's
// backend over the instance socket and shows the windows it is asked
// for. It ends the process through exit when its last window closes (if
// the tray process agrees no request is on its way), at Quit, and when
// the tray process goes; it returns only when the tray process cannot be
// reached.
func Window(trayShown bool, exit func(code int)) error {
	client := uiremote.NewClient(func(context.Context) (net.Conn, error) { return instance.Dial(appID) })
	requests, err := client.Windows(context.Background())
	if err != nil {
		return fmt.Errorf("%s: %w", msg("the hubmirror app is not running; start it with: hubmirror"), err)
	}
	setWindowClass()
	a := fyneapp.NewWithID(appID)
	a.Settings().SetTheme(ui.NewTheme()) // bold CJK, and text colours at WCAG AA contrast
	quietExit(a)
	u := ui.New(a, client)
	seq := 0 // the last request shown; touched on the Fyne thread only
	u.TrayElsewhere(trayShown, func() {
		handled := seq
		go func() {
			if done, err := client.Idle(handled); done || err != nil {
				exit(0)
			}
		}()
	})
	u.ExitWith(func() {
		_ = client.Quit()
		exit(0)
	})
	stopWatch := u.Watch()
	defer stopWatch()
	go func() {
		for r := range requests {
			fyne.Do(func() {
				seq = r.Seq
				u.ShowWindow(r.Name)
			})
		}
		exit(0) // the tray process is gone, or quit
	}()
	a.Run()
	return nil
}
