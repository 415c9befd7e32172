package app

import (
	"context"
	"errors"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/version"
)

// Serve runs the mirror headless, following the settings file, until ctx
// is done or the mirror fails; then it stops the mirror, giving running
// pulls ShutdownGrace. It returns why the mirror could not start or why
// it failed, nil after a stop that ctx asked for.
func (b *Backend) Serve(ctx context.Context) error {
	if err := b.m.Start(); err != nil {
		return err
	}
	b.log.Info("hubmirror started", "version", version.String(), "settings", b.path, "self_auth", b.Settings().SelfAuth)
	stopWatch := b.WatchInBackground()
	select {
	case <-ctx.Done():
		b.log.Info("shutting down", "grace", ShutdownGrace)
	case <-b.m.Done():
	}
	stopWatch()
	if err := b.Stop(); err != nil {
		return err
	}
	if st := b.m.Status(); st.State == mirror.Failed {
		return errors.New(st.Err)
	}
	return nil
}
