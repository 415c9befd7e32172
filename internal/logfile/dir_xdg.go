//go:build !darwin && !windows

package logfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir is where app keeps its log: $XDG_STATE_HOME/app, by default
// ~/.local/state/app (the XDG Base Directory Specification puts logs in
// the state directory). A relative XDG_STATE_HOME is ignored, as the
// specification asks.
func Dir(app string) (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, app), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", app), nil
}
