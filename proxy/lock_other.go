//go:build !unix

package proxy

import (
	"fmt"
	"os"
)

// lockDir opens the lock file. On systems without flock the file only marks
// the directory; two mirrors on one cache directory are not prevented.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	return f, nil
}

// inode is unknown here; size and modification time tell versions apart.
func inode(os.FileInfo) uint64 { return 0 }
