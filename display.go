package main

import (
	"os"
	"runtime"
)

// noDisplay says why no window can be shown, or "" when one can. macOS and
// Windows always have a display; elsewhere X11 or Wayland must be named.
func noDisplay() string {
	switch runtime.GOOS {
	case "darwin", "windows", "android", "ios":
		return ""
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
	}
	if !guiBuilt {
		return "this hubmirror was built without the desktop app (-tags nogui)"
	}
	return ""
}
