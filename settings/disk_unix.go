//go:build unix

package settings

import (
	"os"
	"path/filepath"
	"syscall"
)

// diskSize returns the size of the file system that holds dir (or its
// nearest existing parent), or 0 when it cannot tell.
func diskSize(dir string) int64 {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			var st syscall.Statfs_t
			if syscall.Statfs(d, &st) != nil {
				return 0
			}
			return int64(st.Blocks) * int64(st.Bsize)
		}
		if d == filepath.Dir(d) {
			return 0
		}
	}
}
