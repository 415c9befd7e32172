//go:build !windows

package mirror

import (
	"errors"
	"syscall"
)

// addrInUse reports whether a listen error means the address is taken.
func addrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// isNoSpace reports whether a write error means the disk is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
