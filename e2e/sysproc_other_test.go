//go:build !linux

package e2e

import "syscall"

// childProcAttr returns nil: Pdeathsig exists only on Linux.
func childProcAttr() *syscall.SysProcAttr { return nil }
