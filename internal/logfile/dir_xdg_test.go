//go:build !darwin && !windows

package logfile

import (
	"path/filepath"
	"testing"
)

func TestDirFollowsXDG(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "")
	if got, _ := Dir("app"); got != filepath.Join(home, ".local", "state", "app") {
		t.Errorf("without XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "/srv/state")
	if got, _ := Dir("app"); got != "/srv/state/app" {
		t.Errorf("with XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "relative") // not absolute: ignored, as the spec says
	if got, _ := Dir("app"); got != filepath.Join(home, ".local", "state", "app") {
		t.Errorf("with a relative XDG_STATE_HOME: %q", got)
	}
}
