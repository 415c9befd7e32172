// Package logfile writes a log to a file that it rotates by size, and reads
// the last lines of it back. The file and the directory it creates are
// readable by their owner only.
package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// File is a log file rotated by size: a write that would take it past its
// limit first renames it to name.1 (name.1 to name.2, and so on, dropping
// the oldest). It is safe for concurrent use.
type File struct {
	path     string
	maxBytes int64
	keep     int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens path for appending, creating it and its directory as needed,
// for a log of at most keep files (path, path.1, … path.<keep-1>) of about
// maxBytes each. A line longer than maxBytes gets a file of its own.
func Open(path string, maxBytes int64, keep int) (*File, error) {
	if maxBytes <= 0 || keep < 1 {
		return nil, fmt.Errorf("open log %s: need a positive size and number of files", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	l := &File{path: path, maxBytes: maxBytes, keep: keep}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// open opens l.path for appending with mode 0600, tightening the mode of
// a file that was there before.
func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	info, err := f.Stat()
	if err == nil && info.Mode().Perm() != 0o600 {
		err = f.Chmod(0o600)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	l.f, l.size = f, info.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past its
// limit. Each call of a log handler is one line, which so stays whole in
// one file.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("write log %s: %w", l.path, os.ErrClosed)
	}
	if l.size > 0 && l.size+int64(len(p)) > l.maxBytes {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate closes the file, shifts the older ones along and opens a new one.
// The file is closed before it is renamed, which Windows requires.
func (l *File) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	l.f = nil
	for i := l.keep - 1; i >= 1; i-- {
		older := fmt.Sprintf("%s.%d", l.path, i)
		newer := l.path
		if i > 1 {
			newer = fmt.Sprintf("%s.%d", l.path, i-1)
		}
		if err := os.Rename(newer, older); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	if l.keep == 1 {
		if err := os.Remove(l.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	return l.open()
}

// Path is the file's name.
func (l *File) Path() string { return l.path }

// Close closes the file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
