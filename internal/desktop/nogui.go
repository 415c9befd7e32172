//go:build nogui

package desktop

import (
	"errors"

	"github.com/hubmirror/hubmirror/internal/app"
)

// Built is false in a build without the desktop app (-tags nogui), for
// servers without graphics libraries.
const Built = false

// Options are what the desktop app would take from the command line; a
// nogui build has no use for them.
type Options struct {
	ApplySetup func(client string) (report string, err error)
	Exit       func(code int)
}

// errNoGUI is why Run and Window fail in a nogui build.
func errNoGUI() error {
	return errors.New(msg("this build has no desktop app (built with -tags nogui)"))
}

// Run fails: a nogui build has no desktop app (NoDisplay says so first).
func Run(*app.Backend, Options) error { return errNoGUI() }

// Window fails: a nogui build has no windows (and no desktop app that
// would start this).
func Window(bool, func(int)) error { return errNoGUI() }
