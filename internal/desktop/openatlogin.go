//go:build !nogui

package desktop

import (
	"os"
	"path/filepath"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/autostart"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// keepOpenAtLogin makes the platform's login entry follow open_at_login:
// now (which also points an existing entry at this binary, should it have
// moved), and after every change of the settings, from the window or the
// file. stop ends it.
func keepOpenAtLogin(b *app.Backend) (stop func()) {
	updates, unsubscribe := b.SettingsUpdates()
	last := b.Settings().OpenAtLogin
	setOpenAtLogin(b, last, false)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-updates:
				if s.OpenAtLogin != last {
					last = s.OpenAtLogin
					setOpenAtLogin(b, last, true)
				}
			}
		}
	}()
	return func() {
		unsubscribe()
		close(done)
	}
}

// setOpenAtLogin creates or removes the login entry, logging it when the
// setting changed. The entry starts this binary as the desktop app, with
// --config when the settings file is not the default one, so the app opens
// with the settings it was set from.
func setOpenAtLogin(b *app.Backend, on, changed bool) {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		b.Log().Error("open at login: cannot tell where this program is", "err", err)
		return
	}
	args := []string{exe}
	if def, err := settings.DefaultPath(); err != nil || filepath.Clean(def) != filepath.Clean(b.Path()) {
		if abs, err := filepath.Abs(b.Path()); err == nil {
			args = append(args, "--config", abs)
		}
	}
	if err := autostart.Set(autostart.Entry{ID: appID, Name: "hubmirror", Args: args}, on); err != nil {
		b.Log().Error("open at login not updated", "on", on, "err", err)
		return
	}
	if changed {
		b.Log().Info("open at login", "on", on)
	}
}
