package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLog writes a log file of n lines, "… line 0" to "… line n-1", and
// returns its path.
func writeLog(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "time=2026-12-01T10:00:00Z level=INFO msg=\"pulled\" line %d\n", i)
	}
	path := filepath.Join(t.TempDir(), "hubmirror.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Show log, from the tray, shows the log file's last lines in monospace,
// selectable, and reads the file again each time it is opened.
func TestShowLogShowsTheLastLines(t *testing.T) {
	h := newHarness(t)
	path := writeLog(t, 500)
	h.b.about = AboutInfo{LogFile: path}
	h.menuItem(labelLog).Action()
	h.u.wait()
	v := h.u.logView
	if v == nil || !v.win.(*fakeWindow).shown {
		t.Fatal("log window not shown")
	}
	lines := strings.Split(v.text.Text, "\n")
	if len(lines) != logLines || !strings.HasSuffix(lines[0], fmt.Sprintf("line %d", 500-logLines)) ||
		!strings.HasSuffix(lines[len(lines)-1], "line 499") {
		t.Errorf("%d lines, from %q to %q; want the last %d", len(lines), lines[0], lines[len(lines)-1], logLines)
	}
	if !v.text.TextStyle.Monospace || !v.text.Selectable {
		t.Errorf("log text style %+v, selectable %v: want monospace and selectable", v.text.TextStyle, v.text.Selectable)
	}
	if bottom := v.text.MinSize().Height - v.scroll.Size().Height; v.scroll.Offset.Y < bottom-1 {
		t.Errorf("log scrolled to %v, want the bottom (%v): the newest lines", v.scroll.Offset.Y, bottom)
	}
	if !strings.Contains(v.path.Text, path) {
		t.Errorf("path line %q, want %s", v.path.Text, path)
	}

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "a new line")
	f.Close()
	h.u.ShowLog()
	h.u.wait()
	if h.u.logView != v || len(h.app.windows) != 1 {
		t.Error("a second log window")
	}
	if !strings.HasSuffix(v.text.Text, "line 499\na new line") {
		t.Errorf("after reopening the log ends %q", v.text.Text[len(v.text.Text)-30:])
	}
}

// Without a log file, or with one not written yet, the window says so.
func TestShowLogWithoutAFile(t *testing.T) {
	for _, tc := range []struct{ name, path, want string }{
		{"no log file", "", "This hubmirror does not write a log file"},
		{"not written yet", filepath.Join(t.TempDir(), "none.log"), "Nothing has been logged yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.b.about = AboutInfo{LogFile: tc.path}
			h.u.ShowLog()
			h.u.wait()
			if got := h.u.logView.text.Text; !strings.HasPrefix(got, tc.want) {
				t.Errorf("log window says %q, want %q", got, tc.want)
			}
		})
	}
}
