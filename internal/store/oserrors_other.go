//go:build !windows

package store

import (
	"errors"
	"syscall"
)

// isNoSpace reports whether a write error means the disk is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
