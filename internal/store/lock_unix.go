//go:build unix

package store

import (
	"os"
	"syscall"
)

// lockTarget is the file the OS lock is taken on. On Unix it is the lock
// file itself: flock(2) is advisory, so others still read the owner record,
// and a hubmirror from before github.com/gofrs/flock, which flocked this
// same file, and the current one exclude each other.
func lockTarget(path string) string { return path }

// inode returns the file's inode number, which changes when another file
// takes its name.
func inode(info os.FileInfo) uint64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
