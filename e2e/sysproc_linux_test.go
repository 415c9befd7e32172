//go:build linux

package e2e

import "syscall"

// childProcAttr makes the kernel kill a child process if the test binary
// dies first (a timeout panic, say), so no mirror outlives its test.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
