//go:build unix

package settings

import (
	"os"
	"path/filepath"
	"syscall"
)

// diskSpace returns the size and the free space (for this user) of the
// file system that holds dir, or its nearest existing parent; 0 and -1
// when it cannot tell.
func diskSpace(dir string) (size, free int64) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			var st syscall.Statfs_t
			if syscall.Statfs(d, &st) != nil {
				return 0, -1
			}
			return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize)
		}
		if d == filepath.Dir(d) {
			return 0, -1
		}
	}
}
