package app

import (
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hubmirror/hubmirror/internal/settings"
)

// newFileBackend returns a backend (its mirror not started) on a settings
// file of its own.
func newFileBackend(t *testing.T) (*Backend, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.json")
	s := settings.Settings{Listen: "127.0.0.1:0", CacheDir: filepath.Join(dir, "cache"), AllowedUsers: []string{"alice"}}
	if err := settings.Save(path, s); err != nil {
		t.Fatal(err)
	}
	s, err := settings.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBackend(path, s, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return b, path
}

// editFile changes the settings file as `hubmirror pin add` does.
func editFile(t *testing.T, path string, edit func(*settings.Settings)) {
	t.Helper()
	s, err := settings.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(&s)
	if err := settings.Save(path, s); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateSettingsKeepsTheFile: a Save from the window, made with an old
// copy of the settings, changes only what the window changed; a pin added
// to the file meanwhile survives.
func TestUpdateSettingsKeepsTheFile(t *testing.T) {
	b, path := newFileBackend(t)
	editFile(t, path, func(s *settings.Settings) { s.Pinned = []string{"alpine:3.20"} })

	got, err := b.UpdateSettings(func(s *settings.Settings) { s.StartOnLaunch = true })
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := settings.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]settings.Settings{"returned": got, "on disk": onDisk, "in force": b.Settings()} {
		if !slices.Equal(s.Pinned, []string{"alpine:3.20"}) || !s.StartOnLaunch || !slices.Equal(s.AllowedUsers, []string{"alice"}) {
			t.Errorf("%s: pinned %q, start_on_launch %v, allowed %q; want the pin kept and the edit made", name, s.Pinned, s.StartOnLaunch, s.AllowedUsers)
		}
	}

	// An edit that makes the file invalid is refused and not written.
	if _, err := b.UpdateSettings(func(s *settings.Settings) { s.Listen = "nonsense" }); err == nil {
		t.Error("an invalid listen address was saved")
	}
	if s, _ := settings.Load(path); s.Listen != "127.0.0.1:0" {
		t.Errorf("listen on disk %q after a refused save", s.Listen)
	}
}

// TestWatchFileReachesBackend: a change of the file reaches the settings
// in force and the backend's subscribers, as serve and the desktop app
// both rely on.
func TestWatchFileReachesBackend(t *testing.T) {
	b, path := newFileBackend(t)
	updates, cancel := b.SettingsUpdates()
	defer cancel()
	stop := b.WatchInBackground()
	defer stop()
	editFile(t, path, func(s *settings.Settings) { s.Pinned = []string{"alpine:3.20"} })
	for s := range updates {
		if slices.Equal(s.Pinned, []string{"alpine:3.20"}) {
			break
		}
	}
	if got := b.Settings().Pinned; !slices.Equal(got, []string{"alpine:3.20"}) {
		t.Errorf("pinned in force %q", got)
	}
}
