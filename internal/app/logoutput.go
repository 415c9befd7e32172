package app

import (
	"io"
	"os"
	"sync"
)

// logOutput is where every command's log lines go: stderr, and in the
// desktop app also its log file (SetLogOutputFile).
var logOutput = &logTee{out: os.Stderr}

// LogOutput is the writer every command's logger writes to: stderr, and
// a file while SetLogOutputFile has set one.
func LogOutput() io.Writer { return logOutput }

// SetLogOutputFile makes LogOutput copy to w as well, or to nothing more
// when w is nil.
func SetLogOutputFile(w io.Writer) { logOutput.setFile(w) }

// logTee writes to out and, while one is set, to a file.
type logTee struct {
	mu   sync.Mutex
	out  io.Writer
	file io.Writer
}

// Write writes p to both; an error of the file's is dropped, as there is
// nowhere left to report it.
func (t *logTee) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.file != nil {
		_, _ = t.file.Write(p)
	}
	return t.out.Write(p)
}

// setFile makes w, or nothing when w is nil, the copy's destination.
func (t *logTee) setFile(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.file = w
}
