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
