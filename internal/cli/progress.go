package cli

import (
	"bufio"
	"fmt"
	"strings"

	"golang.org/x/term"
)

// bar draws a 20-character progress bar.
func bar(done, total int) string {
	n := 20
	if total > 0 {
		n = min(max(done*20/total, 0), 20)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(" ", 20-n) + "]"
}

// isTerminal reports whether s, a command's stdin, stdout or stderr, is a
// terminal (not a file, a pipe or /dev/null).
func isTerminal(s any) bool {
	f, ok := s.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks a yes/no question on a terminal; elsewhere it is no.
func confirm(e *env, q string) bool {
	if !isTerminal(e.stdin) {
		return false
	}
	fmt.Fprintf(e.stdout, "%s %s ", q, e.T("[y/N]"))
	line, _ := bufio.NewReader(e.stdin).ReadString('\n')
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
}
