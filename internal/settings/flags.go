package settings

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// Flags are the command-line options that `serve` and the tray app share.
// Values given on the command line override the settings file.
type Flags struct {
	// Config is the settings file's path; DefaultPath() when empty.
	Config    string
	listen    optString
	cacheDir  optString
	cacheMax  optString
	upstreams upstreamList
	selfAuth  optBool
	allow     userList
	aliases   aliasList
	tls       optString
	insecure  optBool
	conns     optInt
	store     optString
	storeMax  optString
	redirect  optBool
	// upstreamCA is --upstream-ca, made absolute by Check.
	upstreamCA optString
}

// Register adds every flag to fs: --config, --listen, --cache-dir,
// --cache-max, --upstream, --alias, --upstream-ca, --self-auth,
// --allow-user, --tls, --insecure-login, --download-connections, --store,
// --store-max and --store-redirect.
func (f *Flags) Register(fs *flag.FlagSet) {
	f.RegisterUpstreams(fs)
	fs.Var(&f.listen, "listen", fmt.Sprintf(i18n.Key("address to serve on, host:port (default %s)"), DefaultListen))
	fs.Var(&f.cacheDir, "cache-dir", i18n.Key("cache directory (default: the user cache dir + /hubmirror)"))
	fs.Var(&f.cacheMax, "cache-max", i18n.Key("keep at most this much, e.g. 20GiB (default: a fifth of the disk, 5 to 100 GiB)"))
	fs.Var(&f.selfAuth, "self-auth", i18n.Key("be a token realm: clients docker login to the mirror, Docker Hub checks passwords"))
	fs.Var(&f.allow, "allow-user", i18n.Key("with --self-auth, only this Docker Hub user may pull (repeatable)"))
	fs.Var(&f.tls, "tls", i18n.Key("off or auto: serve HTTPS with a local CA kept next to the settings file (hubmirror setup ca prints it)"))
	fs.Var(&f.insecure, "insecure-login", i18n.Key("let other machines log in over plain HTTP (their passwords cross the network in clear)"))
	fs.Var(&f.conns, "download-connections", i18n.Key("fetch each large blob from upstream over this many connections at once, 1 to 16 (default 4)"))
	fs.Var(&f.store, "store", "s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true: "+i18n.Key("keep blobs, manifests and tags in this S3-compatible object store, with the cache directory as a bounded cache in front of it; keys from the AWS environment variables, the OS keyring (hubmirror login s3://…) or ~/.aws/credentials (default: the cache directory alone)"))
	fs.Var(&f.storeMax, "store-max", i18n.Key("with --store, keep at most this much in the object store, e.g. 500GiB; the least recently used blobs go first, pinned images never (default: no bound)"))
	fs.Var(&f.redirect, "store-redirect", i18n.Key("with --store, send clients to the object store for blobs it holds (a 307 to a presigned URL valid for minutes)"))
}

// RegisterUpstreams adds only --config, --upstream, --alias and
// --upstream-ca, for commands that talk to upstream registries but run no
// mirror.
func (f *Flags) RegisterUpstreams(fs *flag.FlagSet) {
	fs.StringVar(&f.Config, "config", f.Config, i18n.Key("settings file (default: the user config dir + /hubmirror/settings.json)"))
	fs.Var(&f.upstreams, "upstream", "REGISTRY=URL: "+i18n.Key("send a registry's traffic to another endpoint (repeatable)"))
	fs.Var(&f.aliases, "alias", "HOST=REGISTRY: "+i18n.Key("requests to the mirror by this host name go to REGISTRY (repeatable)"))
	fs.Var(&f.upstreamCA, "upstream-ca", "FILE: "+i18n.Key("also trust the CA certificates in this PEM file for upstream HTTPS, such as a team mirror's (hubmirror setup ca on it prints its CA)"))
}

// Load reads the settings file (creating it when missing), applies the
// flags and validates the result. It returns the settings and the path.
func (f *Flags) Load() (Settings, string, error) {
	if err := f.Check(); err != nil {
		return Settings{}, "", err
	}
	path := f.Config
	if path == "" {
		var err error
		if path, err = DefaultPath(); err != nil {
			return Settings{}, "", err
		}
	}
	s, err := Load(path)
	if err != nil {
		return s, path, err
	}
	f.Apply(&s)
	if err := s.Validate(); err != nil {
		return s, path, fmt.Errorf(i18n.Key("after applying flags: %w"), err)
	}
	return s, path, nil
}

// Apply overrides s with the flags that were given.
func (f *Flags) Apply(s *Settings) {
	if f.listen.set {
		s.Listen = f.listen.value
	}
	if f.cacheDir.set {
		s.CacheDir = f.cacheDir.value
	}
	if f.cacheMax.set {
		s.CacheMax = f.cacheMax.value
	}
	if f.selfAuth.set {
		s.SelfAuth = f.selfAuth.value
	}
	if f.tls.set {
		s.TLS = TLS{Mode: f.tls.value}
	}
	if f.insecure.set {
		s.InsecureLogin = f.insecure.value
	}
	if f.conns.set {
		n := f.conns.value
		s.DownloadConnections = &n
	}
	if f.store.set {
		s.Store = f.store.value
	}
	if f.storeMax.set {
		s.StoreMax = f.storeMax.value
	}
	if f.redirect.set {
		s.StoreRedirect = f.redirect.value
	}
	if f.upstreamCA.set {
		s.UpstreamCA = f.upstreamCA.value
	}
	if len(f.allow) > 0 {
		s.AllowedUsers = append([]string(nil), f.allow...)
	}
	if len(f.aliases) > 0 {
		merged := maps.Clone(s.Aliases)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, f.aliases)
		s.Aliases = merged
	}
	if len(f.upstreams) > 0 {
		merged := make(map[string]string, len(s.Upstreams)+len(f.upstreams))
		for k, v := range s.Upstreams {
			merged[k] = v
		}
		for k, v := range f.upstreams {
			merged[k] = v
		}
		s.Upstreams = merged
	}
}

// optString is a string flag that knows whether it was given.
type optString struct {
	value string
	set   bool
}

func (o *optString) String() string { return o.value }

func (o *optString) Set(v string) error {
	o.value, o.set = v, true
	return nil
}

// optInt is an integer flag that knows whether it was given.
type optInt struct {
	value int
	set   bool
}

func (o *optInt) String() string { return strconv.Itoa(o.value) }

func (o *optInt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return errors.New(i18n.Key("want a whole number"))
	}
	o.value, o.set = n, true
	return nil
}

// optBool is a boolean flag that knows whether it was given.
type optBool struct {
	value, set bool
}

func (o *optBool) String() string   { return strconv.FormatBool(o.value) }
func (o *optBool) IsBoolFlag() bool { return true }

func (o *optBool) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New(i18n.Key("want true or false"))
	}
	o.value, o.set = b, true
	return nil
}

// userList collects repeated --allow-user flags.
type userList []string

func (u *userList) String() string { return strings.Join(*u, ",") }

func (u *userList) Set(v string) error {
	if err := CheckUsername(v); err != nil {
		return fmt.Errorf(i18n.Key("%q %v"), v, err)
	}
	*u = append(*u, v)
	return nil
}

// aliasList collects repeated --alias HOST=REGISTRY flags.
type aliasList map[string]string

func (a *aliasList) String() string { return fmt.Sprint(map[string]string(*a)) }

func (a *aliasList) Set(v string) error {
	host, registry, ok := strings.Cut(v, "=")
	if !ok || host == "" || registry == "" {
		return errors.New(i18n.Key("want HOST=REGISTRY, for example ghcr.mirror.lan=ghcr.io"))
	}
	if *a == nil {
		*a = aliasList{}
	}
	(*a)[strings.ToLower(host)] = registry
	return nil
}

// upstreamList collects repeated --upstream REGISTRY=URL flags.
type upstreamList map[string]string

func (u *upstreamList) String() string {
	parts := make([]string, 0, len(*u))
	for k, v := range *u {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (u *upstreamList) Set(v string) error {
	name, endpoint, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New(i18n.Key("want REGISTRY=URL, for example docker.io=https://mirror.example.com"))
	}
	if err := CheckUpstream(name, endpoint); err != nil {
		return err
	}
	if *u == nil {
		*u = upstreamList{}
	}
	(*u)[name] = endpoint
	return nil
}

// validate checks a given flag's value, naming the flag in the message.
func (o *optString) validate(flagName string, check func(string) error) error {
	if !o.set {
		return nil
	}
	if err := check(o.value); err != nil {
		return fmt.Errorf(i18n.Key("--%s %q %v"), flagName, o.value, err)
	}
	return nil
}

// Check validates the flags themselves, naming the flag in the message.
func (f *Flags) Check() error {
	if err := f.listen.validate("listen", CheckListen); err != nil {
		return err
	}
	if err := f.tls.validate("tls", checkTLSFlag); err != nil {
		return err
	}
	if err := f.cacheMax.validate("cache-max", func(v string) error { _, err := ParseSize(v); return err }); err != nil {
		return err
	}
	if err := f.storeMax.validate("store-max", func(v string) error { _, err := ParseSize(v); return err }); err != nil {
		return err
	}
	if err := CheckStore(f.store.value); f.store.set && err != nil {
		// The value as redacted: a mistaken URL may hold a secret.
		return fmt.Errorf(i18n.Key("--%s %q %v"), "store", RedactedStoreURL(f.store.value), err)
	}
	if err := f.upstreamCA.validate("upstream-ca", func(path string) error {
		if path != "" && !filepath.IsAbs(path) {
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			f.upstreamCA.value = abs
		}
		return CheckUpstreamCA(f.upstreamCA.value)
	}); err != nil {
		return err
	}
	return f.cacheDir.validate("cache-dir", func(dir string) error {
		if !filepath.IsAbs(dir) {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			f.cacheDir.value = abs
		}
		if info, err := os.Stat(f.cacheDir.value); err == nil && !info.IsDir() {
			return errors.New(i18n.Key("is a file, not a directory"))
		}
		return nil
	})
}

// checkTLSFlag checks --tls: "off" or "auto"; the user's own certificate
// goes in the settings file.
func checkTLSFlag(v string) error {
	if v != TLSOff && v != TLSAuto {
		return errors.New(i18n.Key(`is not off or auto (for your own certificate, set "tls": {"cert": PATH, "key": PATH} in the settings file)`))
	}
	return nil
}
