//go:build windows

package store

import (
	"errors"
	"syscall"
)

// isNoSpace reports whether a write error means the disk is full:
// ERROR_HANDLE_DISK_FULL or ERROR_DISK_FULL on Windows.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.Errno(39)) || errors.Is(err, syscall.Errno(112)) || errors.Is(err, syscall.ENOSPC)
}
