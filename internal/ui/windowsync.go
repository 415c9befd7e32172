package ui

import (
	"slices"

	"github.com/hubmirror/hubmirror/internal/settings"
)

// watchSettings shows each settings change the backend reports in the
// window, on the Fyne thread. stop returns once no further change will be
// handed to fyne.Do.
func (u *App) watchSettings() (stop func()) {
	updates, cancel := u.backend.SettingsUpdates()
	return forwardToUI(u, updates, cancel, u.followSettings)
}

// followSettings shows s, the settings now in force, in the fields of an
// open window that the user has not edited.
func (u *App) followSettings(s settings.Settings) {
	if u.afterSettings != nil {
		defer u.afterSettings()
	}
	if u.form == nil || !u.form.visible {
		return // ShowSettings fills the form when it next opens
	}
	u.showOnDisk(s)
}

// showOnDisk makes s the form's base and shows it in every field the user
// has not edited; edited fields keep the user's values.
func (u *App) showOnDisk(s settings.Settings) {
	f := u.form
	next := s
	applyEdits(&next, u.formSettings(), f.base)
	f.base = s
	u.showValues(next)
}

// applyEdits copies to dst each field of the window's that differs between shown (the form) and base (what it was filled
// from): the fields the user edited.
func applyEdits(dst *settings.Settings, shown, base settings.Settings) {
	if shown.Listen != base.Listen {
		dst.Listen = shown.Listen
	}
	if shown.CacheDir != base.CacheDir {
		dst.CacheDir = shown.CacheDir
	}
	if shown.StartOnLaunch != base.StartOnLaunch {
		dst.StartOnLaunch = shown.StartOnLaunch
	}
	if shown.OpenAtLogin != base.OpenAtLogin {
		dst.OpenAtLogin = shown.OpenAtLogin
	}
	if shown.SelfAuth != base.SelfAuth {
		dst.SelfAuth = shown.SelfAuth
	}
	if !slices.Equal(shown.AllowedUsers, base.AllowedUsers) {
		dst.AllowedUsers = slices.Clone(shown.AllowedUsers)
	}
	if shown.InsecureLogin != base.InsecureLogin {
		dst.InsecureLogin = shown.InsecureLogin
	}
}
