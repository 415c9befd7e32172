//go:build !unix

package clientconf

import (
	"io/fs"
	"os"
)

// sameOwner does nothing where files have no Unix owner: a replaced file
// keeps its folder's permissions.
func sameOwner(*os.File, fs.FileInfo) {}
