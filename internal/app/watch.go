package app

import (
	"context"

	"github.com/hubmirror/hubmirror/internal/settings"
)

// WatchFile applies every change of the settings file to the mirror until
// ctx is done: who may pull at once, pins by fetching the new ones, a new
// address, cache directory or upstreams by restarting it. serve and the
// desktop app both run it (see WatchInBackground). A file that cannot be
// used is logged and the mirror keeps the settings it has.
func (b *Backend) WatchFile(ctx context.Context) {
	settings.Watch(ctx, b.path, func(s settings.Settings, err error) {
		b.fileMu.Lock()
		defer b.fileMu.Unlock()
		if err == nil {
			s, err = b.withFlags(s)
		}
		if err != nil {
			b.log.Warn("settings not applied; the mirror keeps running with the previous ones", "err", err)
			return
		}
		if err := b.apply(s); err != nil {
			b.log.Error("settings applied, but the mirror did not restart", "err", err)
		}
	})
}

// WatchInBackground runs WatchFile in a goroutine; stop ends it and
// returns once no change of the file can reach the mirror any more.
func (b *Backend) WatchInBackground() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.WatchFile(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// withFlags returns s with the command line's settings over it.
func (b *Backend) withFlags(s settings.Settings) (settings.Settings, error) {
	if b.flags == nil {
		return s, nil
	}
	b.flags.Apply(&s)
	return s, s.Validate()
}

// UpdateSettings reads the settings file as it is now, lets edit change
// it, then validates, writes and applies the result, which it returns
// (with the command line's settings over it). Settings edit leaves alone
// keep what is on disk, such as a pin `hubmirror pin add` just added.
func (b *Backend) UpdateSettings(edit func(*settings.Settings)) (settings.Settings, error) {
	b.fileMu.Lock()
	defer b.fileMu.Unlock()
	s, err := settings.Load(b.path)
	if err != nil {
		return b.Settings(), err
	}
	edit(&s)
	if err := s.Validate(); err != nil {
		return b.Settings(), err
	}
	if err := settings.Save(b.path, s); err != nil {
		return b.Settings(), err
	}
	s, err = b.withFlags(s)
	if err != nil {
		return b.Settings(), err
	}
	return s, b.apply(s)
}

// SettingsUpdates delivers the settings in force after each change, from
// the window or the file. A slow reader gets the latest one only.
func (b *Backend) SettingsUpdates() (<-chan settings.Settings, func()) {
	ch := make(chan settings.Settings, 1)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan settings.Settings]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

// notify hands s to every subscriber, replacing one it has not read yet.
// b.mu is held.
func (b *Backend) notify(s settings.Settings) {
	for ch := range b.subs {
		select {
		case <-ch:
		default:
		}
		ch <- s // cannot block: b.mu is held, and only notify sends
	}
}
