//go:build !unix

package settings

import "os"

// hangups delivers nothing: there is no SIGHUP here, and polling alone
// finds changes.
func hangups() (<-chan os.Signal, func()) {
	return nil, func() {}
}
