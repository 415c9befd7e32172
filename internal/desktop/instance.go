//go:build !nogui

package desktop

import (
	"errors"
	"fmt"
	"os"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/instance"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// claimInstance makes this process the user's one desktop app. When one
// runs already, it is asked to show its window, one line says so, and
// running is true: the caller exits. Otherwise show receives a value each
// time a later launch asks (see showOnRequest) and release gives the claim
// up. When the claim cannot be made at all, the app runs anyway.
func claimInstance(b *app.Backend) (in *instance.Instance, show <-chan struct{}, release func(), running bool) {
	asked := make(chan struct{}, 1)
	in, err := instance.Claim(appID, func() {
		select {
		case asked <- struct{}{}:
		default: // one is pending already
		}
	})
	switch {
	case err == instance.ErrRunning: // unwrapped: the other one answered
		fmt.Println(msg("hubmirror is already running: its window was brought to the front."))
		return nil, nil, nil, true
	case errors.Is(err, instance.ErrRunning):
		fmt.Fprintf(os.Stderr, "hubmirror: "+msg("hubmirror is already running, but its window could not be shown: %v")+"\n", err)
		return nil, nil, nil, true
	case err != nil:
		b.Log().Warn("cannot tell whether hubmirror runs already; starting anyway", "err", err)
		return nil, asked, func() {}, false
	}
	return in, asked, func() { in.Close() }, false
}

// showOnRequest shows u's window each time a later launch asks: the main
// window without a tray, else Settings.
func showOnRequest(show <-chan struct{}, u *ui.App) {
	go func() {
		for range show {
			u.Do(u.ShowFront)
		}
	}()
}
