//go:build !nogui

package desktop

import (
	"os"
	"runtime"

	"github.com/hubmirror/hubmirror/internal/identity"
)

// setWindowClass makes the app's X11 windows carry its ID as their WM_CLASS
// instance name, which desktops match against the launcher's .desktop file
// (`fyne package` names it after the ID) to group windows with it. Fyne has
// no setting for this; GLFW, under it, takes the instance name from
// RESOURCE_NAME (the X convention) and both names from the window title
// otherwise. A RESOURCE_NAME the user set is kept.
func setWindowClass() {
	switch runtime.GOOS {
	case "darwin", "windows", "android", "ios", "js":
		return
	}
	if os.Getenv("RESOURCE_NAME") == "" {
		_ = os.Setenv("RESOURCE_NAME", identity.AppID)
	}
}
