package app

import (
	"context"
	"errors"
	"flag"
	"net"
	"slices"
	"testing"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// Serve runs the mirror until its context ends, then stops it and
// returns nil.
func TestServeUntilCancelled(t *testing.T) {
	b, _ := newFileBackend(t)
	updates, unsubscribe := b.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- b.Serve(ctx) }()
	for st := range updates {
		if st.State == mirror.Running {
			break
		}
		if st.State == mirror.Failed {
			t.Fatalf("the mirror failed: %s", st.Err)
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if st := b.Status(); st.State != mirror.Stopped {
		t.Errorf("state %s after Serve returned, want stopped", st.State)
	}
}

// Serve on an address another program holds returns at once with the
// mirror's error, which says so.
func TestServeOnATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	b, _ := newFileBackend(t)
	if _, err := b.UpdateSettings(func(s *settings.Settings) { s.Listen = taken.Addr().String() }); err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(context.Background()); !errors.Is(err, mirror.ErrAddrInUse) {
		t.Errorf("Serve on a taken port: %v, want ErrAddrInUse", err)
	}
}

// The command line's settings win over the file's at each change of the
// file: the file's pin arrives, its allowed users do not replace
// --allow-user.
func TestFlagsWinOverFileChanges(t *testing.T) {
	b, path := newFileBackend(t)
	var flags settings.Flags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	flags.Register(fs)
	if err := fs.Parse([]string{"--allow-user", "bobby"}); err != nil {
		t.Fatal(err)
	}
	b.flags = &flags
	updates, cancel := b.SettingsUpdates()
	defer cancel()
	stop := b.WatchInBackground()
	defer stop()
	editFile(t, path, func(s *settings.Settings) {
		s.Pinned = []string{"alpine:3.20"}
		s.AllowedUsers = []string{"carol1"}
	})
	for s := range updates {
		if slices.Equal(s.Pinned, []string{"alpine:3.20"}) {
			break
		}
	}
	if got := b.Settings().AllowedUsers; !slices.Equal(got, []string{"bobby"}) {
		t.Errorf("allowed users in force %q, want the flag's [bobby]", got)
	}
}
