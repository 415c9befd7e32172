//go:build windows

package mirror

import (
	"errors"
	"syscall"
)

// addrInUse reports whether a listen error means the address is taken;
// Windows says so with WSAEADDRINUSE.
func addrInUse(err error) bool {
	return errors.Is(err, syscall.Errno(10048)) || errors.Is(err, syscall.EADDRINUSE)
}

// isNoSpace reports whether a write error means the disk is full:
// ERROR_HANDLE_DISK_FULL or ERROR_DISK_FULL on Windows.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.Errno(39)) || errors.Is(err, syscall.Errno(112)) || errors.Is(err, syscall.ENOSPC)
}
