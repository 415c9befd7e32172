//go:build !nogui

package desktop

import (
	"path/filepath"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/identity"
	"github.com/hubmirror/hubmirror/internal/logfile"
)

// The desktop app's log file: logFileMax bytes at most, then rotated,
// keeping logFileKeep files.
const (
	logFileName = "hubmirror.log"
	logFileMax  = 5 << 20
	logFileKeep = 3
)

// openLogFile makes the log, which goes to stderr, go to the desktop app's
// log file in the user's state directory too (see logfile.Dir), and
// records its path in b for About. When the file cannot be opened the app
// logs to stderr only and says so. done closes it.
func openLogFile(b *app.Backend) (done func()) {
	dir, err := logfile.Dir(identity.Name)
	var f *logfile.File
	if err == nil {
		f, err = logfile.Open(filepath.Join(dir, logFileName), logFileMax, logFileKeep)
	}
	if err != nil {
		b.Log().Warn("no log file: logging to stderr only", "err", err)
		return func() {}
	}
	b.SetLogFile(f.Path())
	app.SetLogOutputFile(f)
	return func() {
		app.SetLogOutputFile(nil)
		f.Close()
	}
}
