//go:build nogui

package main

import "errors"

// guiBuilt is false in a build without the desktop app (-tags nogui), for
// servers without graphics libraries.
const guiBuilt = false

// runDesktop is never reached in a nogui build: noDisplay says why.
func runDesktop(*backend) error { panic("hubmirror was built without the desktop app") }

// windowCmd fails: a nogui build has no windows (and no desktop app that
// would start this).
func windowCmd([]string) error {
	return errors.New(msg("this build has no desktop app (built with -tags nogui)"))
}
