//go:build unix

package s3server

import "syscall"

// groupAlive reports whether any process of the group pid leads is left.
func groupAlive(pid int) bool {
	return syscall.Kill(-pid, 0) != syscall.ESRCH
}
