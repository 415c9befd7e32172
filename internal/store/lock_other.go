//go:build !unix

package store

import "os"

// lockTarget is the file the OS lock is taken on: a companion of the lock
// file. On Windows LockFileEx is mandatory, so a lock on the lock file
// itself would keep every other process from reading the owner record that
// the cache commands need to find the running mirror. No earlier hubmirror
// locked anything here, so no older process needs to see this lock.
func lockTarget(path string) string { return path + ".held" }

// inode is unknown here; size and modification time tell versions apart.
func inode(os.FileInfo) uint64 { return 0 }
