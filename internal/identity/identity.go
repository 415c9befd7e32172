// Package identity names the app to the desktop: one reverse-DNS ID for
// FyneApp.toml, Fyne's app (which gives it to notifications and to its
// preferences folder), the single-instance claim, the autostart entry, the
// X11 window class and the .desktop file `fyne package` writes
// (share/applications/<ID>.desktop), so a desktop groups the windows with
// their launcher. It imports nothing, so main, ui and the internal packages
// can all use it.
package identity

// AppID is the app's reverse-DNS ID, as in FyneApp.toml (a test checks).
const AppID = "io.github.hubmirror"

// Name is the app's name as people see it, as in FyneApp.toml.
const Name = "hubmirror"
