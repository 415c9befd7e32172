package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// hubRegistry is the registry whose account the app manages.
const hubRegistry = "docker.io"

// backend runs the mirror for the serve command and the desktop app: it
// owns the settings file, the Mirror and the keyring account.
type backend struct {
	path string
	log  *slog.Logger
	m    *mirror.Mirror

	// logFile is the desktop app's log file, "" when it writes none.
	logFile string

	// flags, when set, are the command line's settings, which win over
	// the file's.
	flags *settings.Flags
	// fileMu makes each change of the settings (a Save, a change of the
	// file) read, write and apply in one piece.
	fileMu sync.Mutex

	mu   sync.Mutex
	cur  settings.Settings
	subs map[chan settings.Settings]struct{} // see SettingsUpdates
}

func newBackend(path string, s settings.Settings, log *slog.Logger) (*backend, error) {
	m, err := mirror.New(mirror.Config{
		Listen: s.Listen, CacheDir: s.CacheDir, Upstreams: s.Upstreams, Aliases: s.Aliases, Logger: log,
		CacheMax: s.CacheMaxBytes(), Pinned: s.Pinned,
		Credentials: keyringCredentials(), Access: access(s),
		TLS: s.ProxyTLS(path), InsecureLogin: s.InsecureLogin,
	})
	if err != nil {
		return nil, err
	}
	return &backend{path: path, log: log, m: m, cur: s}, nil
}

// Settings returns the settings in force.
func (b *backend) Settings() settings.Settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// SaveSettings validates s, writes it to the settings file and applies it.
// UpdateSettings keeps what others wrote to the file meanwhile.
func (b *backend) SaveSettings(s settings.Settings) error {
	b.fileMu.Lock()
	defer b.fileMu.Unlock()
	if err := s.Validate(); err != nil {
		return err
	}
	if err := settings.Save(b.path, s); err != nil {
		return err
	}
	return b.apply(s)
}

// apply makes s the settings of the running mirror: who may pull at once,
// a new address, cache directory or upstreams by restarting it.
func (b *backend) apply(s settings.Settings) error {
	b.mu.Lock()
	old := b.cur
	b.cur = s
	b.notify(s)
	b.mu.Unlock()
	if s.SelfAuth != old.SelfAuth || !slices.Equal(s.AllowedUsers, old.AllowedUsers) {
		b.m.SetAccess(access(s))
	}
	if !slices.Equal(s.Pinned, old.Pinned) {
		b.m.SetPins(s.Pinned)
	}
	if s.Listen == old.Listen && s.CacheDir == old.CacheDir && maps.Equal(s.Upstreams, old.Upstreams) &&
		maps.Equal(s.Aliases, old.Aliases) && s.CacheMax == old.CacheMax && s.TLS.Same(old.TLS) && s.InsecureLogin == old.InsecureLogin {
		if b.m.Status().State == mirror.Failed {
			return b.m.Start() // a Save after a failure tries again: the port may be free now
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return b.m.Reconfigure(ctx, mirror.Config{Listen: s.Listen, CacheDir: s.CacheDir, Upstreams: s.Upstreams,
		Aliases: s.Aliases, CacheMax: s.CacheMaxBytes(), TLS: s.ProxyTLS(b.path), InsecureLogin: s.InsecureLogin})
}

// Start runs the mirror.
func (b *backend) Start() error { return b.m.Start() }

// Stop stops the mirror, giving running pulls shutdownGrace to finish.
func (b *backend) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return b.m.Stop(ctx)
}

// Status returns the mirror's state and counters.
func (b *backend) Status() mirror.Status { return b.m.Status() }

// Subscribe delivers the mirror's state on every change.
func (b *backend) Subscribe() (<-chan mirror.Status, func()) { return b.m.Subscribe() }

// Account returns the stored Docker Hub username, "" when none is stored.
func (b *backend) Account() (string, error) {
	c, err := secrets.Get(hubRegistry)
	if errors.Is(err, secrets.ErrNotFound) {
		return "", nil
	}
	return c.Username, err
}

// TestAccount checks an account with Docker Hub's token service. An empty
// password means the stored one: the account in the keyring is checked,
// so the window's Test works without typing the password again; user
// must then be "" or the stored account's.
func (b *backend) TestAccount(user, password string) error {
	if password == "" {
		c, err := storedAccount(user)
		if err != nil {
			return err
		}
		user, password = c.Username, c.Password
	}
	if user == "" {
		return errors.New("enter a username and a password or access token")
	}
	endpoint, err := b.Settings().Endpoint(hubRegistry)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = mirror.CheckLogin(ctx, hubRegistry, endpoint, user, password, nil)
	if errors.Is(err, mirror.ErrDenied) {
		return fmt.Errorf("the username or password for %s was refused by Docker Hub", user)
	}
	return err
}

// storedAccount returns the Docker Hub account in the keyring for
// TestAccount, checking that it is user's when user is not "".
func storedAccount(user string) (secrets.Credential, error) {
	c, err := secrets.Get(hubRegistry)
	if errors.Is(err, secrets.ErrNotFound) {
		return c, errors.New("no Docker Hub account is stored: enter a username and a password or access token")
	}
	if err != nil {
		return c, fmt.Errorf("read the stored Docker Hub account: %w", err)
	}
	if user != "" && c.Username != user {
		return secrets.Credential{}, fmt.Errorf("the stored Docker Hub account is %s, not %s: enter the password for %s", c.Username, user, user)
	}
	return c, nil
}

// SaveAccount checks an account, then stores it in the OS keyring.
func (b *backend) SaveAccount(user, password string) error {
	if user == "" || password == "" { // TestAccount would check the stored password
		return errors.New("enter a username and a password or access token")
	}
	if err := b.TestAccount(user, password); err != nil {
		return err
	}
	return secrets.Set(hubRegistry, secrets.Credential{Username: user, Password: password})
}

// CacheUsage says how full the cache is.
func (b *backend) CacheUsage() mirror.CacheUsage { return b.m.CacheUsage() }

// VerifyCache hashes every cached blob again and removes corrupt ones.
func (b *backend) VerifyCache(progress func(done, total int)) ([]string, error) {
	return b.m.VerifyCache(progress)
}

// ClearCache empties the cache.
func (b *backend) ClearCache() error { return b.m.ClearCache() }

// Prefetch downloads an image into the cache ahead of time.
func (b *backend) Prefetch(ref string, progress func(done, total int64)) error {
	return b.m.Prefetch(context.Background(), ref, progress)
}

// RemoveAccount deletes the stored account; none stored is not an error.
func (b *backend) RemoveAccount() error {
	if err := secrets.Delete(hubRegistry); err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	return nil
}
