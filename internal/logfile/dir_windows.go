package logfile

import (
	"errors"
	"os"
	"path/filepath"
)

// Dir is where app keeps its log on Windows: %LOCALAPPDATA%\app\logs, which
// stays on this machine (it is not part of a roaming profile).
func Dir(app string) (string, error) {
	d := os.Getenv("LOCALAPPDATA")
	if d == "" {
		return "", errors.New("log directory: %LOCALAPPDATA% is not set")
	}
	return filepath.Join(d, app, "logs"), nil
}
