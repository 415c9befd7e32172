package cli

import (
	"flag"
	"fmt"

	"github.com/hubmirror/hubmirror/internal/desktop"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/version"
)

// versionFlags is `hubmirror version`: it prints the version. Arguments
// are ignored.
func versionFlags(_ *flag.FlagSet, e *env) func([]string) error {
	return func([]string) error {
		fmt.Fprintln(e.stdout, "hubmirror", version.String())
		return nil
	}
}

// helpFlags is `hubmirror help`: it prints the help on stdout. Arguments
// are ignored.
func helpFlags(_ *flag.FlagSet, e *env) func([]string) error {
	return func([]string) error {
		writeHelp(e.stdout, e.lang)
		return nil
	}
}

// windowFlags is `hubmirror window`, the desktop app's window process,
// which the app starts itself (desktop.Window).
func windowFlags(fs *flag.FlagSet, e *env) func([]string) error {
	trayShown := fs.Bool("tray-shown", true, i18n.Key("a tray host shows the tray item"))
	return func([]string) error {
		return desktop.Window(*trayShown, e.exit)
	}
}
