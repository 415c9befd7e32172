// Command hubmirror is a local pull-through mirror of Docker Hub and other
// registries. `hubmirror serve` runs it headless; `hubmirror` alone runs the
// desktop app, or headless when there is no display. The command line is
// internal/cli; this is where the process ends, with the status it returns
// (or, for the desktop app's Quit, through the exit it is handed).
package main

import (
	"os"

	"github.com/hubmirror/hubmirror/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Exit)) }
