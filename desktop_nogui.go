//go:build nogui

package main

// guiBuilt is false in a build without the desktop app (-tags nogui), for
// servers without graphics libraries.
const guiBuilt = false

// runDesktop is never reached in a nogui build: noDisplay says why.
func runDesktop(*backend) error { panic("hubmirror was built without the desktop app") }
