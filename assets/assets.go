// Package assets holds hubmirror's icons as PNG bytes and the landing page
// template. It does not import Fyne: the ui package wraps the bytes in
// resources. The PNGs are drawn by gen/main.go (go generate ./assets).
package assets

import _ "embed"

//go:generate go run gen/main.go

// Icon is the app icon, 512×512: a white arrow dropping into an open box
// on a blue rounded square.
//
//go:embed icon.png
var Icon []byte

// TrayRunning is the 64×64 tray icon while the mirror runs: the same glyph
// on green.
//
//go:embed tray_running.png
var TrayRunning []byte

// TrayStopped is the 64×64 tray icon while the mirror is stopped: the same
// glyph on grey.
//
//go:embed tray_stopped.png
var TrayStopped []byte

// TrayProblem is the 64×64 tray icon while the mirror runs with a problem
// (an upstream fails, the disk is full, the keyring cannot be read): the
// same glyph on amber.
//
//go:embed tray_problem.png
var TrayProblem []byte

// TrayFailed is the 64×64 tray icon after the mirror failed: the same
// glyph on red.
//
//go:embed tray_failed.png
var TrayFailed []byte

// LandingPage is the html/template of the page at the mirror's "/": what
// the mirror is, its live status, and set-up for every client.
//
//go:embed landing.html
var LandingPage string
