package ui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

// hitRate is the share of blobs and manifests served from the cache, as a
// rounded percentage; ok is false before there were any.
func hitRate(c mirror.Counters) (rate string, ok bool) {
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
		return tr("unknown error")
	}
	if i := strings.IndexAny(msg, ";\n；"); i > 0 { // the first clause, in English or Chinese
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
