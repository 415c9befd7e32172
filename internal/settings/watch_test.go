package settings

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// report is one call of a Watcher's onChange.
type report struct {
	s   Settings
	err error
}

// recorder collects what a Watcher reports.
type recorder struct{ got []report }

func (r *recorder) onChange(s Settings, err error) { r.got = append(r.got, report{s, err}) }

// take returns the reports since the last take.
func (r *recorder) take() []report {
	got := r.got
	r.got = nil
	return got
}

// write writes raw to path with a modification time that differs from
// the last write's, as a second's wait would on a coarse file system.
func write(t *testing.T, path, raw string, stamp time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
}

func TestWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	cache := filepath.Join(t.TempDir(), "cache")
	good := `{"listen": "127.0.0.1:5000", "cache_dir": "` + cache + `"}`
	pinned := `{"listen": "127.0.0.1:5000", "cache_dir": "` + cache + `", "pinned": ["alpine:3.20"]}`
	t0 := time.Now().Add(-time.Hour)
	write(t, path, good, t0)

	var r recorder
	w := NewWatcher(path, r.onChange)

	// The first check reports what is on disk.
	w.Check(false)
	if got := r.take(); len(got) != 1 || got[0].err != nil || got[0].s.CacheDir != cache {
		t.Fatalf("first check: %+v, want the file's settings", got)
	}
	w.Check(false)
	if got := r.take(); len(got) != 0 {
		t.Fatalf("nothing changed, yet reported %+v", got)
	}

	// A change is seen.
	write(t, path, pinned, t0.Add(time.Second))
	w.Check(false)
	if got := r.take(); len(got) != 1 || got[0].err != nil || !slices.Equal(got[0].s.Pinned, []string{"alpine:3.20"}) {
		t.Fatalf("after a pin was added: %+v", got)
	}

	// The same content written again is not reported twice, even when
	// asked (SIGHUP) to look.
	write(t, path, pinned, t0.Add(2*time.Second))
	w.Check(false)
	w.Check(true)
	if got := r.take(); len(got) != 0 {
		t.Fatalf("an unchanged rewrite was reported: %+v", got)
	}

	// A change that keeps size and modification time is found when
	// asked to look.
	same := strings.Replace(pinned, "3.20", "3.21", 1)
	write(t, path, same, t0.Add(2*time.Second))
	w.Check(false)
	if got := r.take(); len(got) != 0 {
		t.Fatalf("reported %+v without a new size or time", got)
	}
	w.Check(true)
	if got := r.take(); len(got) != 1 || !slices.Equal(got[0].s.Pinned, []string{"alpine:3.21"}) {
		t.Fatalf("after SIGHUP: %+v, want alpine:3.21", got)
	}

	// A bad file is an error, once; the watcher does not replace it with
	// the defaults.
	write(t, path, `{"listen": "127.0.0.1:5000",`, t0.Add(3*time.Second))
	w.Check(false)
	w.Check(true)
	got := r.take()
	if len(got) != 1 || got[0].err == nil || !strings.Contains(got[0].err.Error(), path) {
		t.Fatalf("bad file: %+v, want one error naming the file", got)
	}
	if raw, _ := os.ReadFile(path); string(raw) != `{"listen": "127.0.0.1:5000",` {
		t.Errorf("the bad file was rewritten: %s", raw)
	}
	write(t, path, `{"listen": "nonsense", "cache_dir": "`+cache+`"}`, t0.Add(4*time.Second))
	w.Check(false)
	if got := r.take(); len(got) != 1 || got[0].err == nil || !strings.Contains(got[0].err.Error(), "listen") {
		t.Fatalf("invalid setting: %+v, want an error naming listen", got)
	}

	// A missing file is an error, and is not created.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	w.Check(false)
	if got := r.take(); len(got) != 1 || got[0].err == nil {
		t.Fatalf("missing file: %+v, want an error", got)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the watcher created the missing file")
	}

	// Back to the good content: reported again, as the last report was an
	// error.
	write(t, path, pinned, t0.Add(5*time.Second))
	w.Check(false)
	if got := r.take(); len(got) != 1 || got[0].err != nil || !slices.Equal(got[0].s.Pinned, []string{"alpine:3.20"}) {
		t.Fatalf("after repair: %+v", got)
	}
}

// TestWatchRuns: Watch reports the file at once and stops with its context.
func TestWatchRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	write(t, path, `{"listen": "127.0.0.1:5001", "cache_dir": "`+filepath.Join(t.TempDir(), "c")+`"}`, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan Settings, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, path, func(s Settings, err error) {
			if err != nil {
				t.Errorf("watch: %v", err)
			}
			got <- s
		})
	}()
	if s := <-got; s.Listen != "127.0.0.1:5001" {
		t.Errorf("listen %q", s.Listen)
	}
	cancel()
	<-done
}
