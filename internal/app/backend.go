// Package app is what the desktop app and `hubmirror serve` share: the
// Backend that owns the settings file (and follows its changes), the
// running mirror and the Docker Hub account in the OS keyring; the
// keyring's credentials for the mirror's upstream pulls; and the log
// output every command writes to. It imports neither Fyne nor the
// command line.
package app

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

// HubRegistry is the registry whose account the app manages.
const HubRegistry = "docker.io"

// ShutdownGrace is how long running pulls may finish when the mirror
// stops: at SIGINT or SIGTERM, at Quit, and when a new address or cache
// directory restarts it.
const ShutdownGrace = 10 * time.Second

// Backend runs the mirror for the serve command and the desktop app: it
// owns the settings file, the Mirror and the keyring account.
type Backend struct {
	path string
	log  *slog.Logger
	m    *mirror.Mirror

	// flags, when set, are the command line's settings, which win over
	// the file's.
	flags *settings.Flags
	// fileMu makes each change of the settings (a Save, a change of the
	// file) read, write and apply in one piece.
	fileMu sync.Mutex

	mu      sync.Mutex
	cur     settings.Settings
	subs    map[chan settings.Settings]struct{} // see SettingsUpdates
	logFile string                              // see SetLogFile
}

// NewBackend makes the Backend of the settings s read from the file at
// path, with flags (nil for none) the command line's settings that win
// over the file's at every change of it. Its mirror is not started.
func NewBackend(path string, s settings.Settings, flags *settings.Flags, log *slog.Logger) (*Backend, error) {
	b := &Backend{path: path, log: log, cur: s, flags: flags}
	cfg, err := mirrorConfig(path, s)
	if err != nil {
		return nil, err
	}
	// A registry chained to a team mirror logs in with the account stored
	// for the team mirror's host, as the upstreams in force say.
	upstreams := func() map[string]string { return b.Settings().Upstreams }
	cfg.Logger, cfg.Pinned, cfg.Credentials, cfg.Access = log, s.Pinned, ChainedKeyringCredentials(upstreams), access(s)
	if b.m, err = mirror.New(cfg); err != nil {
		return nil, err
	}
	return b, nil
}

// engineConfig is the part of the settings that a restart of the mirror
// applies (Reconfigure): where it listens, what it caches and how it
// downloads.
func engineConfig(path string, s settings.Settings) mirror.Config {
	cfg := mirror.Config{
		Listen: s.Listen, CacheDir: s.CacheDir, Upstreams: s.Upstreams, Aliases: s.Aliases,
		CacheMax: s.CacheMaxBytes(), TLS: s.ProxyTLS(path), InsecureLogin: s.InsecureLogin,
		DownloadConnections: s.DownloadConnectionsOrDefault(), DownloadChunk: s.DownloadChunkBytes(),
		PrefetchLayers: s.PrefetchLayersOrDefault(), Store: s.Store,
		StoreMax: s.StoreMaxBytes(), StoreRedirect: s.StoreRedirect,
	}
	if s.Store != "" {
		// The environment, then the store's account in the keyring
		// (`hubmirror login s3://…`), then ~/.aws/credentials: read when
		// the mirror opens the store.
		cfg.StoreCredentials = StoreCredentials(s.Store)
	}
	return cfg
}

// mirrorConfig is engineConfig with the upstream_ca file read into it:
// each restart of the mirror reads the file again.
func mirrorConfig(path string, s settings.Settings) (mirror.Config, error) {
	cfg := engineConfig(path, s)
	ca, err := s.UpstreamCAPEM()
	if err != nil {
		return cfg, err
	}
	cfg.UpstreamCA = ca
	return cfg, nil
}

// access is the part of the settings that says who may pull.
func access(s settings.Settings) mirror.Access {
	return mirror.Access{SelfAuth: s.SelfAuth, AllowedUsers: s.AllowedUsers}
}

// Path is the settings file's path.
func (b *Backend) Path() string { return b.path }

// Log is the logger the backend and its mirror write to.
func (b *Backend) Log() *slog.Logger { return b.log }

// SetLogFile records the path of the file the log is copied to (the
// desktop app's), for About; "" for none.
func (b *Backend) SetLogFile(path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logFile = path
}

// LogFile is the path SetLogFile recorded, "" when the log goes to stderr
// only.
func (b *Backend) LogFile() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logFile
}

// Settings returns the settings in force.
func (b *Backend) Settings() settings.Settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// SaveSettings validates s, writes it to the settings file and applies it.
// UpdateSettings keeps what others wrote to the file meanwhile.
func (b *Backend) SaveSettings(s settings.Settings) error {
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
func (b *Backend) apply(s settings.Settings) error {
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
		maps.Equal(s.Aliases, old.Aliases) && s.CacheMax == old.CacheMax && s.TLS.Same(old.TLS) && s.InsecureLogin == old.InsecureLogin &&
		s.DownloadConnectionsOrDefault() == old.DownloadConnectionsOrDefault() && s.DownloadChunkBytes() == old.DownloadChunkBytes() &&
		s.PrefetchLayersOrDefault() == old.PrefetchLayersOrDefault() && s.Store == old.Store && s.UpstreamCA == old.UpstreamCA &&
		s.StoreMax == old.StoreMax && s.StoreRedirect == old.StoreRedirect {
		if b.m.Status().State == mirror.Failed {
			return b.m.Start() // a Save after a failure tries again: the port may be free now
		}
		return nil
	}
	cfg, err := mirrorConfig(b.path, s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	return b.m.Reconfigure(ctx, cfg)
}

// Start runs the mirror.
func (b *Backend) Start() error { return b.m.Start() }

// Stop stops the mirror, giving running pulls ShutdownGrace to finish.
func (b *Backend) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	return b.m.Stop(ctx)
}

// Status returns the mirror's state and counters.
func (b *Backend) Status() mirror.Status { return b.m.Status() }

// Subscribe delivers the mirror's state on every change.
func (b *Backend) Subscribe() (<-chan mirror.Status, func()) { return b.m.Subscribe() }

// Account returns the stored Docker Hub username, "" when none is stored.
func (b *Backend) Account() (string, error) {
	c, err := secrets.Get(HubRegistry)
	if errors.Is(err, secrets.ErrNotFound) {
		return "", nil
	}
	return c.Username, err
}

// TestAccount checks an account with Docker Hub's token service. An empty
// password means the stored one: the account in the keyring is checked,
// so the window's Test works without typing the password again; user
// must then be "" or the stored account's.
func (b *Backend) TestAccount(user, password string) error {
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
	endpoint, err := b.Settings().Endpoint(HubRegistry)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = mirror.CheckLogin(ctx, HubRegistry, endpoint, user, password, nil)
	if errors.Is(err, mirror.ErrDenied) {
		return fmt.Errorf("the username or password for %s was refused by Docker Hub", user)
	}
	return err
}

// storedAccount returns the Docker Hub account in the keyring for
// TestAccount, checking that it is user's when user is not "".
func storedAccount(user string) (secrets.Credential, error) {
	c, err := secrets.Get(HubRegistry)
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
func (b *Backend) SaveAccount(user, password string) error {
	if user == "" || password == "" { // TestAccount would check the stored password
		return errors.New("enter a username and a password or access token")
	}
	if err := b.TestAccount(user, password); err != nil {
		return err
	}
	return secrets.Set(HubRegistry, secrets.Credential{Username: user, Password: password})
}

// RemoveAccount deletes the stored account; none stored is not an error.
func (b *Backend) RemoveAccount() error {
	if err := secrets.Delete(HubRegistry); err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	return nil
}

// CacheUsage says how full the cache is.
func (b *Backend) CacheUsage() mirror.CacheUsage { return b.m.CacheUsage() }

// VerifyCache hashes every cached blob again and removes corrupt ones.
func (b *Backend) VerifyCache(progress func(done, total int)) ([]string, error) {
	return b.m.VerifyCache(progress)
}

// ClearCache empties the cache.
func (b *Backend) ClearCache() error { return b.m.ClearCache() }

// Prefetch downloads an image into the cache ahead of time.
func (b *Backend) Prefetch(ref string, progress func(done, total int64)) error {
	return b.m.Prefetch(context.Background(), ref, progress)
}
