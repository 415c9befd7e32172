package app

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// A Save after the mirror failed (its port was taken) starts it again:
// with a new port, and with the same one once the other program let go.
func TestSaveAfterFailureRestarts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		newPort bool
	}{{"another port", true}, {"the port freed", false}} {
		t.Run(tc.name, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			dir := t.TempDir()
			path := filepath.Join(dir, "settings.json")
			s := settings.Settings{Listen: taken.Addr().String(), CacheDir: filepath.Join(dir, "cache")}
			if err := settings.Save(path, s); err != nil {
				t.Fatal(err)
			}
			if s, err = settings.Load(path); err != nil {
				t.Fatal(err)
			}
			b, err := NewBackend(path, s, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Start(); err == nil {
				t.Fatal("started on a taken port")
			}
			if st := b.Status(); st.State != mirror.Failed {
				t.Fatalf("state %s, want failed", st.State)
			}
			if tc.newPort {
				s.Listen = "127.0.0.1:0"
			} else {
				taken.Close()
			}
			if err := b.SaveSettings(s); err != nil {
				t.Fatalf("save: %v", err)
			}
			if st := b.Status(); st.State != mirror.Running {
				t.Errorf("after Save: state %s (%s), want running", st.State, st.Err)
			}
			if err := b.Stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
