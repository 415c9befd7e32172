//go:build unix

package proxy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on path so that two mirrors never share
// one cache directory. The lock goes away with the process. The file names
// this process (see lockOwner), so that a second one can say who holds it.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, inUse(filepath.Dir(path), path)
		}
		return nil, fmt.Errorf("cache directory: lock: %w", err)
	}
	if err := writeOwner(f, ""); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache directory: lock file: %w", err)
	}
	return f, nil
}

// inode returns the file's inode number, which changes when another file
// takes its name.
func inode(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
