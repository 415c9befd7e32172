// Package ui is hubmirror's desktop face: the tray menu and the settings
// window, built with Fyne. It is the only package that imports Fyne; it
// talks to the rest of the app through Backend, whose methods may block
// (network, keyring, disk) and so are never called on the UI thread.
package ui

import (
	"errors"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// ErrKeyringUnavailable is in the chain of a Backend error that comes from
// the OS keyring not being usable (locked, not running, not installed), so
// that the window can say what to do instead of showing the raw error.
var ErrKeyringUnavailable = errors.New("the OS keyring is not available")

// Backend is what the tray and the settings window need from the app.
// Every method may block; the UI calls them from goroutines.
type Backend interface {
	// Settings returns the settings in force.
	Settings() settings.Settings
	// SaveSettings validates s, writes the settings file and applies it to
	// the running mirror: self_auth and allowed_users at once, a new listen
	// address or cache directory by restarting the mirror. A validation
	// error is a *settings.FieldError.
	SaveSettings(s settings.Settings) error
	// UpdateSettings reads the settings file as it is at the time of the
	// call, lets edit change it, then validates, writes and applies the
	// result as SaveSettings does, and returns the settings then in force.
	// What edit leaves alone keeps what is on disk.
	UpdateSettings(edit func(*settings.Settings)) (settings.Settings, error)
	// SettingsUpdates delivers the settings in force after each change,
	// whether made in the window or in the file (an editor, `hubmirror
	// pin add`); a slow reader gets the latest only.
	SettingsUpdates() (updates <-chan settings.Settings, cancel func())

	// Start and Stop run and stop the mirror.
	Start() error
	Stop() error
	// Status returns a snapshot; Subscribe delivers a new one on every
	// change of state and, a few times a second at most, of the counters.
	Status() mirror.Status
	Subscribe() (updates <-chan mirror.Status, cancel func())

	// Account returns the Docker Hub username stored in the OS keyring, ""
	// when there is none; an error when the keyring cannot be used.
	Account() (user string, err error)
	// SaveAccount checks the account with Docker Hub, then stores it.
	SaveAccount(user, password string) error
	// TestAccount checks the account with Docker Hub without storing it.
	// An empty password means the stored one: the account in the keyring
	// is checked, so the window can test it without the password being
	// typed again (user must then be "" or the stored username).
	TestAccount(user, password string) error
	// RemoveAccount deletes the stored account.
	RemoveAccount() error

	// CacheUsage says how full the cache is.
	CacheUsage() mirror.CacheUsage
	// VerifyCache hashes every cached blob again, removes the corrupt ones
	// and returns their digests; progress is called from the same goroutine.
	VerifyCache(progress func(done, total int)) ([]string, error)
	// ClearCache empties the cache.
	ClearCache() error
	// Prefetch downloads an image ("alpine:3.20") into the cache.
	Prefetch(ref string, progress func(done, total int64)) error

	// ApplySetup configures a client ("docker", "containerd" or "podman")
	// for the mirror, as `hubmirror setup CLIENT --apply` does with its
	// default files, and returns what it did and what to do next (restart
	// the engine, or the sudo command to run where the app lacks the
	// rights, with the error).
	ApplySetup(client string) (report string, err error)

	// About says what the About window shows: the build and where the
	// app keeps its files, the log file among them.
	About() AboutInfo
}

// AboutInfo is the build and the files of the running app.
type AboutInfo struct {
	Version string
	// Commit is the VCS revision the binary was built from, "" when
	// unknown; Modified says the checkout had local changes.
	Commit   string
	Modified bool
	// SettingsFile, CacheDir and LogFile are paths; LogFile is "" when
	// the app writes no log file.
	SettingsFile, CacheDir, LogFile string
}
