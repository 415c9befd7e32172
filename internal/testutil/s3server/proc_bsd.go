//go:build unix && !linux

package s3server

import "syscall"

// procAttr puts weed in a process group of its own, for killGroup.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
