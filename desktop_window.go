//go:build !nogui

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/hubmirror/hubmirror/internal/instance"
	"github.com/hubmirror/hubmirror/internal/ui"
	"github.com/hubmirror/hubmirror/internal/uiremote"
)

// windowCmd is `hubmirror window`, the desktop app's window process: the
// tray process (runDesktop) starts it when a window is wanted. It runs
// Fyne with the tray process's backend over the instance socket, shows
// the windows it is asked for, and exits when its last window closes (if
// the tray process agrees no request is on its way) or when the tray
// process goes.
func windowCmd(args []string) error {
	fs := flag.NewFlagSet("hubmirror window", flag.ContinueOnError)
	trayShown := fs.Bool("tray-shown", true, "a tray host shows the tray item")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		os.Exit(2)
	}
	client := uiremote.NewClient(func(context.Context) (net.Conn, error) { return instance.Dial(appID) })
	requests, err := client.Windows(context.Background())
	if err != nil {
		return fmt.Errorf("%s: %w", msg("the hubmirror app is not running; start it with: hubmirror"), err)
	}
	setWindowClass()
	a := app.NewWithID(appID)
	a.Settings().SetTheme(ui.NewTheme()) // bold CJK, and text colours at WCAG AA contrast
	quietExit(a)
	u := ui.New(a, client)
	seq := 0 // the last request shown; touched on the Fyne thread only
	u.TrayElsewhere(*trayShown, func() {
		handled := seq
		go func() {
			if exit, err := client.Idle(handled); exit || err != nil {
				os.Exit(0)
			}
		}()
	})
	u.ExitWith(func() {
		_ = client.Quit()
		os.Exit(0)
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
		os.Exit(0) // the tray process is gone, or quit
	}()
	a.Run()
	return nil
}
