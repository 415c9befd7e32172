package desktop

import (
	"os"
	"runtime"
)

// NoDisplay says why no window can be shown, or "" when one can. macOS and
// Windows always have a display; elsewhere X11 or Wayland must be named.
// A nogui build has no windows anywhere.
func NoDisplay() string {
	switch runtime.GOOS {
	case "darwin", "windows", "android", "ios":
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
		}
	}
	if !Built {
		return "this hubmirror was built without the desktop app (-tags nogui)"
	}
	return ""
}
