//go:build !nogui && !(linux || freebsd || openbsd || netbsd)

package desktop

import (
	"log/slog"

	"fyne.io/fyne/v2"
)

// withNotifier returns a: on macOS and Windows Fyne's own notifications
// are used.
func withNotifier(a fyne.App, _ *slog.Logger) fyne.App { return a }
