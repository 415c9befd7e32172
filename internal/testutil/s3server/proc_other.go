//go:build !unix

package s3server

import (
	"os/exec"
	"syscall"
)

// procAttr is nil: process groups are a Unix thing.
func procAttr() *syscall.SysProcAttr { return nil }

// killGroup kills weed, which starts no processes of its own.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}
