package ui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hubmirror/hubmirror/proxy"
)

// formatBytes writes n in decimal units: 999 B, 1.5 kB, 12 MB, 2.1 GB.
func formatBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	unit := -1
	for v >= 999.5 && unit < len(prefixes)-1 {
		v /= 1000
		unit++
	}
	if v < 9.95 {
		return fmt.Sprintf("%.1f %sB", v, prefixes[unit])
	}
	return fmt.Sprintf("%.0f %sB", v, prefixes[unit])
}

var prefixes = []string{"k", "M", "G", "T", "P", "E"}

// hitRate is the share of blobs and manifests served from the cache, as a
// rounded percentage; ok is false before there were any.
func hitRate(c proxy.Counters) (rate string, ok bool) {
	total := c.CacheHits + c.CacheMisses
	if total <= 0 {
		return "", false
	}
	return fmt.Sprintf("%d%%", (200*c.CacheHits+total)/(2*total)), true
}

// maxReason is how many characters of an error the tray's status line
// shows.
const maxReason = 72

// shortReason cuts an error message to its first clause, at most
// maxReason characters: the tray line names the problem, the window and
// the notification say what to do about it.
func shortReason(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return "unknown error"
	}
	if i := strings.IndexAny(msg, ";\n"); i > 0 {
		msg = msg[:i]
	}
	if utf8.RuneCountInString(msg) > maxReason {
		r := []rune(msg)
		msg = strings.TrimSpace(string(r[:maxReason-1])) + "…"
	}
	return msg
}

// pullsLeft shows Docker Hub's remaining pull allowance.
func pullsLeft(n int64) string {
	if n < 0 {
		return tr("unknown")
	}
	return fmt.Sprint(n)
}
