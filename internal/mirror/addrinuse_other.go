//go:build !windows

package mirror

import (
	"errors"
	"syscall"
)

// addrInUse reports whether a listen error means the address is taken.
func addrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
