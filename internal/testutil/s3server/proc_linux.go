package s3server

import "syscall"

// procAttr puts weed in a process group of its own, for killGroup, and
// makes the kernel kill it if the test binary dies first (a timeout panic,
// say), so no server outlives its test.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
