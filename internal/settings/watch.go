package settings

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// PollInterval is how often Watch looks at the settings file.
//
// Polling, not fsnotify: editors replace the file by renaming, which ends
// an fsnotify watch on it, and a poll of one stat a second costs nothing.
const PollInterval = time.Second

// Watcher reports each new content of a settings file. It is what
// `hubmirror serve` and the desktop app both use to follow the file, so
// that an edit made with an editor, `hubmirror pin add` or another window
// reaches them the same way.
type Watcher struct {
	path     string
	onChange func(Settings, error)

	stamp    string   // size and modification time last seen
	sum      [32]byte // hash of the content last reported
	reported bool     // something was reported
}

// NewWatcher returns a Watcher of the file at path that calls onChange with
// the file's settings whenever its content changes, or with the reason the
// file cannot be used (a syntax error, an invalid setting, a missing file);
// the caller then keeps the last good settings. The first Check reports the
// file as it is.
func NewWatcher(path string, onChange func(Settings, error)) *Watcher {
	return &Watcher{path: path, onChange: onChange}
}

// Check looks at the file now. It reads the file when its size or
// modification time changed, or always when force is set, and reports
// its content when that differs from the content last reported. Check
// must not be called from two goroutines at once.
func (w *Watcher) Check(force bool) {
	info, statErr := os.Stat(w.path)
	stamp := ""
	if statErr == nil {
		stamp = fmt.Sprint(info.Size(), info.ModTime().UnixNano())
	}
	if w.reported && !force && stamp == w.stamp {
		return
	}
	w.stamp = stamp
	raw, err := os.ReadFile(w.path)
	sum := sha256.Sum256(raw)
	if err != nil {
		// Every read error counts as one content: "unreadable".
		sum = [32]byte{}
	}
	if w.reported && sum == w.sum {
		return
	}
	w.sum, w.reported = sum, true
	if err != nil {
		w.onChange(Settings{}, fmt.Errorf("read settings: %w", err))
		return
	}
	s, err := parse(raw)
	if err != nil {
		w.onChange(Settings{}, fmt.Errorf("%s: %w", w.path, err))
		return
	}
	w.onChange(s, nil)
}

// Run checks the file at once, then every PollInterval, and at once on
// SIGHUP where there is one, until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	hup, stop := hangups()
	defer stop()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	w.Check(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.Check(false)
		case <-hup:
			w.Check(true)
		}
	}
}

// Watch runs a Watcher of the file at path until ctx is done; see
// NewWatcher for what onChange gets. onChange runs on Watch's goroutine.
func Watch(ctx context.Context, path string, onChange func(Settings, error)) {
	NewWatcher(path, onChange).Run(ctx)
}

// parse reads the content of a settings file as Load does, but never
// writes the file.
func parse(raw []byte) (Settings, error) {
	s, err := Defaults()
	if err != nil {
		return s, err
	}
	if err := decode(raw, &s); err != nil {
		return s, err
	}
	return s, s.Validate()
}
