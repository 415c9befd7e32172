//go:build unix

package s3server

import (
	"os/exec"
	"syscall"
)

// killGroup kills the process group that cmd leads: weed and anything it
// started.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
