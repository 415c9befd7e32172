//go:build !((linux || freebsd || openbsd || netbsd) && !android)

package traymenu

// HostPresent reports true: on macOS and Windows the menu bar or the
// notification area always shows tray items.
func HostPresent() bool {
	return true
}
