package logfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dir is where app keeps its log on macOS: ~/Library/Logs/app, where
// Console.app finds it.
func Dir(app string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	return filepath.Join(home, "Library", "Logs", app), nil
}
