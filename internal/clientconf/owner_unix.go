//go:build unix

package clientconf

import (
	"io/fs"
	"os"
	"syscall"
)

// sameOwner gives f the owner and group of old, the file it replaces, so
// that root running --apply on a user's file leaves it the user's. It is
// best effort: a user who may not chown gets a file of their own, which is
// what they had.
func sameOwner(f *os.File, old fs.FileInfo) {
	if st, ok := old.Sys().(*syscall.Stat_t); ok {
		f.Chown(int(st.Uid), int(st.Gid))
	}
}
