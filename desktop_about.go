//go:build !nogui

package main

import (
	"path/filepath"

	"github.com/hubmirror/hubmirror/internal/identity"
	"github.com/hubmirror/hubmirror/internal/logfile"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// The desktop app's log file: logFileMax bytes at most, then rotated,
// keeping logFileKeep files.
const (
	logFileName = "hubmirror.log"
	logFileMax  = 5 << 20
	logFileKeep = 3
)

// About says what the About window shows.
func (b *backend) About() ui.AboutInfo {
	rev, modified := commit()
	return ui.AboutInfo{
		Version: version, Commit: rev, Modified: modified,
		SettingsFile: b.path, CacheDir: b.Settings().CacheDir, LogFile: b.logFile,
	}
}

// openLogFile makes the log, which goes to stderr, go to the desktop app's
// log file in the user's state directory too (see logfile.Dir), and
// records its path in b. When the file cannot be opened the app logs to
// stderr only and says so. done closes it.
func openLogFile(b *backend) (done func()) {
	dir, err := logfile.Dir(identity.Name)
	var f *logfile.File
	if err == nil {
		f, err = logfile.Open(filepath.Join(dir, logFileName), logFileMax, logFileKeep)
	}
	if err != nil {
		b.log.Warn("no log file: logging to stderr only", "err", err)
		return func() {}
	}
	b.logFile = f.Path()
	logOutput.setFile(f)
	return func() {
		logOutput.setFile(nil)
		f.Close()
	}
}
