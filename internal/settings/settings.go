// Package settings reads, validates and writes hubmirror's settings file,
// the one file that `hubmirror serve` and the tray app share.
package settings

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/objstore"
)

// DefaultListen is where the mirror listens unless told otherwise: loopback
// only, so nobody else on the network can use it.
const DefaultListen = "127.0.0.1:5000"

// Settings is the content of settings.json. Field names are a contract:
// users' scripts write them.
type Settings struct {
	// Listen is the host:port the mirror serves on.
	Listen string `json:"listen"`
	// CacheDir is where layers and manifests are kept.
	CacheDir string `json:"cache_dir"`
	// Upstreams maps a registry name (e.g. "docker.io") to the endpoint its
	// traffic goes to (e.g. a company mirror).
	Upstreams map[string]string `json:"upstreams,omitempty"`
	// SelfAuth makes the mirror its own token realm: clients `docker login`
	// to it and Docker Hub checks their passwords (the ancestor's SELF_AUTH).
	SelfAuth bool `json:"self_auth"`
	// AllowedUsers, with SelfAuth, are the only Docker Hub users who may
	// pull (the ancestor's WHITE_LIST); empty allows every user.
	AllowedUsers []string `json:"allowed_users"`
	// StartOnLaunch makes the desktop app start the mirror when it starts.
	StartOnLaunch bool `json:"start_on_launch"`
	// OpenAtLogin makes the desktop app start when the user logs in.
	OpenAtLogin bool `json:"open_at_login"`
	// Aliases maps a host name clients use for the mirror to the registry it
	// stands for ("ghcr.mirror.lan": "ghcr.io"), as the ancestor routed by host.
	Aliases map[string]string `json:"aliases,omitempty"`
	// CacheMax bounds the layers kept, e.g. "20GiB"; "" is DefaultCacheMax.
	CacheMax string `json:"cache_max,omitempty"`
	// Pinned are images kept whole and never evicted ("alpine:3.20").
	Pinned []string `json:"pinned,omitempty"`
	// TLS is "off", "auto" (a local CA next to this file) or the user's
	// own certificate and key files.
	TLS TLS `json:"tls"`
	// InsecureLogin lets other machines log in over plain HTTP, where
	// their passwords cross the network in clear.
	InsecureLogin bool `json:"insecure_login"`
	// DownloadConnections is how many parallel Range requests fetch one
	// large blob from upstream; absent is DefaultDownloadConnections, 1
	// fetches every blob over one connection.
	DownloadConnections *int `json:"download_connections,omitempty"`
	// DownloadChunk is the size of each of those requests, e.g. "8MiB";
	// "" is DefaultDownloadChunk.
	DownloadChunk string `json:"download_chunk,omitempty"`
	// PrefetchLayers is how many of the layers a client's manifest names
	// the mirror fetches ahead at once; absent is DefaultPrefetchLayers, 0
	// turns fetching ahead off.
	PrefetchLayers *int `json:"prefetch_layers,omitempty"`
	// Store is the S3-compatible object store that keeps blobs, manifests
	// and tag records, s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true;
	// cache_dir is then a bounded cache in front of it. "" keeps
	// everything in cache_dir alone. Its credentials are never here: they
	// come from the environment, ~/.aws/credentials or the keyring.
	Store string `json:"store,omitempty"`
	// StoreMax bounds the blobs kept in the store, e.g. "500GiB"; "" does
	// not bound it. The least recently used go first, pinned images never.
	StoreMax string `json:"store_max,omitempty"`
	// StoreRedirect answers GETs of blobs the store holds with a 307 to a
	// short-lived presigned URL of the store, for clients that reach it.
	StoreRedirect bool `json:"store_redirect,omitempty"`
	// UpstreamCA is the absolute path of a PEM file of certificates
	// trusted for upstream HTTPS besides the system's roots: the CA of a
	// team mirror in "upstreams" (hubmirror setup ca on it prints it). ""
	// trusts the system's roots alone.
	UpstreamCA string `json:"upstream_ca,omitempty"`
}

// Download defaults: a blob is fetched in chunks of DefaultDownloadChunk
// over DefaultDownloadConnections connections, and DefaultPrefetchLayers
// layers of a manifest are fetched ahead at once.
const (
	DefaultDownloadConnections = 4
	DefaultDownloadChunk       = 8 << 20
	DefaultPrefetchLayers      = 3
	// MaxDownloadConnections and MaxPrefetchLayers bound what a settings
	// file may ask for: more would only crowd the upstream.
	MaxDownloadConnections = 16
	MaxPrefetchLayers      = 16
)

// DownloadConnectionsOrDefault returns download_connections, or the
// default when it is absent.
func (s Settings) DownloadConnectionsOrDefault() int {
	if s.DownloadConnections == nil {
		return DefaultDownloadConnections
	}
	return *s.DownloadConnections
}

// DownloadChunkBytes returns download_chunk in bytes, or the default when
// it is absent or unreadable (Validate refuses the latter).
func (s Settings) DownloadChunkBytes() int64 {
	if n, err := ParseSize(s.DownloadChunk); err == nil && s.DownloadChunk != "" {
		return n
	}
	return DefaultDownloadChunk
}

// PrefetchLayersOrDefault returns prefetch_layers, or the default when it
// is absent.
func (s Settings) PrefetchLayersOrDefault() int {
	if s.PrefetchLayers == nil {
		return DefaultPrefetchLayers
	}
	return *s.PrefetchLayers
}

// StoreMaxBytes returns store_max in bytes; 0 (no bound) when it is
// absent or unreadable (Validate refuses the latter).
func (s Settings) StoreMaxBytes() int64 {
	if n, err := ParseSize(s.StoreMax); err == nil && s.StoreMax != "" {
		return n
	}
	return 0
}

// CacheMaxBytes returns cache_max in bytes, or the default for the disk
// that holds the cache directory.
func (s Settings) CacheMaxBytes() int64 {
	if n, err := ParseSize(s.CacheMax); err == nil {
		return n
	}
	return DefaultCacheMax(s.CacheDir)
}

// DefaultCacheMax is a fifth of the disk that holds dir, at least 5 GiB and
// at most 100 GiB, but never more than the disk can give: what the cache
// already holds plus nine tenths of the free space. 20 GiB (within the same
// bound) when the disk's size is unknown.
func DefaultCacheMax(dir string) int64 {
	disk, free := diskSpace(dir)
	want := int64(20 << 30)
	if disk > 0 {
		want = min(max(disk/5, 5<<30), 100<<30)
	}
	if free < 0 || free/10*9 >= want {
		return want // no need to walk the cache
	}
	return min(want, dirBytes(dir)+free/10*9)
}

// dirBytes adds up the sizes of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// FieldError says which setting is wrong and what to do about it.
type FieldError struct {
	Field   string // the JSON field, e.g. "listen"
	Value   string
	Problem string
}

// Error is the problem in English, for logs and tests: "listen":
// "localhost" is not host:port (for example 127.0.0.1:5000).
func (e *FieldError) Error() string {
	return fmt.Sprintf(fieldErrorFormat, e.Field, e.Value, e.Problem)
}

// fieldErrorFormat is how a FieldError reads: the field and the value as
// written in the settings file, then the problem.
var fieldErrorFormat = i18n.Key("%q: %q %s")

// In is the problem as a person reads it in l, for the command line and
// the settings window: the field and the value stay as written, the
// problem is translated. Lang.Text of Error() reads the same.
func (e *FieldError) In(l i18n.Lang) string {
	return l.F(fieldErrorFormat, e.Field, e.Value, l.Text(e.Problem))
}

// Defaults returns the settings a new settings file starts with.
func Defaults() (Settings, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return Settings{}, fmt.Errorf(i18n.Key("no user cache directory (%w): set --cache-dir"), err)
	}
	return Settings{Listen: DefaultListen, CacheDir: filepath.Join(dir, "hubmirror"), StartOnLaunch: true}, nil
}

// DefaultPath is the settings file's usual place.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf(i18n.Key("no user config directory (%w): set --config"), err)
	}
	return filepath.Join(dir, "hubmirror", "settings.json"), nil
}

// Load reads the settings file at path. A missing file is created with the
// defaults (mode 0600). Fields the file leaves out keep their defaults.
func Load(path string) (Settings, error) {
	s, err := Defaults()
	if err != nil {
		return s, err
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := Save(path, s); err != nil {
			return s, err
		}
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf(i18n.Key("read settings: %w"), err)
	}
	if err := decode(raw, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// decode reads JSON strictly, with messages that name the field.
func decode(raw []byte, s *Settings) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(s)
	if err == nil && dec.More() {
		err = errors.New(i18n.Key("extra data after the settings object"))
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		line := 1 + bytes.Count(raw[:syntax.Offset], []byte("\n"))
		return fmt.Errorf(i18n.Key("line %d: %v"), line, syntax)
	case errors.As(err, &typ):
		return fmt.Errorf(i18n.Key("%q must be %s, not %s"), typ.Field, kindName(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return fmt.Errorf(i18n.Key("unknown setting %s; the settings are %s"), field, strings.Join(knownFields(), ", "))
	case errors.Is(err, io.EOF):
		return errors.New(i18n.Key("the file is empty; delete it to get the defaults"))
	}
	return err
}

// kindName names a JSON value's kind as the settings' messages do.
func kindName(k string) string {
	switch k {
	case "map", "struct":
		return i18n.Key("an object")
	case "slice":
		return i18n.Key("a list")
	case "string":
		return i18n.Key("a string")
	case "bool":
		return i18n.Key("a bool")
	case "int":
		return i18n.Key("a whole number")
	}
	return "a " + k
}

func knownFields() []string {
	return []string{`"listen"`, `"cache_dir"`, `"upstreams"`, `"self_auth"`, `"allowed_users"`, `"start_on_launch"`, `"open_at_login"`, `"aliases"`, `"cache_max"`, `"pinned"`, `"tls"`, `"insecure_login"`, `"download_connections"`, `"download_chunk"`, `"prefetch_layers"`, `"store"`, `"store_max"`, `"store_redirect"`, `"upstream_ca"`}
}

// Save writes s to path atomically with mode 0600, creating its directory.
func Save(path string, s Settings) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf(i18n.Key("save settings: %w"), err)
	}
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf(i18n.Key("save settings: %w"), err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".settings-*")
	if err != nil {
		return fmt.Errorf(i18n.Key("save settings: %w"), err)
	}
	defer os.Remove(f.Name())
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(append(raw, '\n'))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf(i18n.Key("save settings: %w"), err)
	}
	return nil
}

// Validate checks every field and returns the first problem as a
// *FieldError.
func (s Settings) Validate() error {
	if err := CheckListen(s.Listen); err != nil {
		return &FieldError{Field: "listen", Value: s.Listen, Problem: err.Error()}
	}
	if !filepath.IsAbs(s.CacheDir) {
		return &FieldError{Field: "cache_dir", Value: s.CacheDir, Problem: i18n.Key("must be an absolute path")}
	}
	if err := s.TLS.check(); err != nil {
		return err
	}
	for _, p := range s.Pinned {
		if _, err := mirror.ParseRef(p); err != nil {
			return &FieldError{Field: "pinned", Value: p, Problem: i18n.Key("is not an image reference such as alpine:3.20 or ghcr.io/owner/app:1")}
		}
	}
	if s.CacheMax != "" {
		if _, err := ParseSize(s.CacheMax); err != nil {
			return &FieldError{Field: "cache_max", Value: s.CacheMax, Problem: err.Error()}
		}
	}
	if n := s.DownloadConnections; n != nil && (*n < 1 || *n > MaxDownloadConnections) {
		return &FieldError{Field: "download_connections", Value: strconv.Itoa(*n), Problem: fmt.Sprintf(i18n.Key("must be 1 to %d (1 fetches each blob over one connection)"), MaxDownloadConnections)}
	}
	if s.DownloadChunk != "" {
		n, err := ParseSize(s.DownloadChunk)
		if err != nil {
			return &FieldError{Field: "download_chunk", Value: s.DownloadChunk, Problem: err.Error()}
		}
		if n < 1<<20 || n > 1<<30 {
			return &FieldError{Field: "download_chunk", Value: s.DownloadChunk, Problem: i18n.Key("must be 1MiB to 1GiB, for example 8MiB")}
		}
	}
	if n := s.PrefetchLayers; n != nil && (*n < 0 || *n > MaxPrefetchLayers) {
		return &FieldError{Field: "prefetch_layers", Value: strconv.Itoa(*n), Problem: fmt.Sprintf(i18n.Key("must be 0 to %d (0 turns fetching ahead off)"), MaxPrefetchLayers)}
	}
	if err := CheckStore(s.Store); err != nil {
		return &FieldError{Field: "store", Value: RedactedStoreURL(s.Store), Problem: err.Error()}
	}
	if s.StoreMax != "" {
		if _, err := ParseSize(s.StoreMax); err != nil {
			return &FieldError{Field: "store_max", Value: s.StoreMax, Problem: err.Error()}
		}
		if s.Store == "" {
			return &FieldError{Field: "store_max", Value: s.StoreMax, Problem: i18n.Key(`bounds the object store, and "store" names none: set "store" too, or remove "store_max" (the cache directory's bound is "cache_max")`)}
		}
	}
	if s.StoreRedirect && s.Store == "" {
		return &FieldError{Field: "store_redirect", Value: "true", Problem: i18n.Key(`redirects clients to the object store, and "store" names none: set "store" too, or remove "store_redirect"`)}
	}
	if err := CheckUpstreamCA(s.UpstreamCA); err != nil {
		return &FieldError{Field: "upstream_ca", Value: s.UpstreamCA, Problem: err.Error()}
	}
	seen := map[string]bool{}
	for _, u := range s.AllowedUsers {
		if err := CheckUsername(u); err != nil {
			return &FieldError{Field: "allowed_users", Value: u, Problem: err.Error()}
		}
		if seen[u] {
			return &FieldError{Field: "allowed_users", Value: u, Problem: i18n.Key("is listed twice")}
		}
		seen[u] = true
	}
	names := make([]string, 0, len(s.Upstreams))
	for name := range s.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := CheckUpstream(name, s.Upstreams[name]); err != nil {
			return &FieldError{Field: "upstreams", Value: name + "=" + s.Upstreams[name], Problem: err.Error()}
		}
	}
	hosts := make([]string, 0, len(s.Aliases))
	for h := range s.Aliases {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		if err := s.CheckAlias(h, s.Aliases[h]); err != nil {
			return &FieldError{Field: "aliases", Value: h + "=" + s.Aliases[h], Problem: err.Error()}
		}
	}
	return nil
}

// Registries lists every registry the mirror serves: the built-in ones and
// those in "upstreams", sorted.
func (s Settings) Registries() []string {
	set := map[string]bool{}
	for r := range mirror.BuiltinUpstreams() {
		set[r] = true
	}
	for r := range s.Upstreams {
		set[r] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// CheckAlias checks that host is a host name and registry is mirrored.
func (s Settings) CheckAlias(host, registry string) error {
	if !hostnameRE.MatchString(host) {
		return fmt.Errorf(i18n.Key("%q is not a host name"), host)
	}
	if !slices.Contains(s.Registries(), registry) {
		return fmt.Errorf(i18n.Key("registry %q is not mirrored: add it to \"upstreams\" first"), registry)
	}
	return nil
}

// Endpoint returns the URL a registry's traffic goes to.
func (s Settings) Endpoint(registry string) (string, error) {
	if u, ok := s.Upstreams[registry]; ok {
		return u, nil
	}
	if u, ok := mirror.BuiltinUpstreams()[registry]; ok {
		return u, nil
	}
	return "", fmt.Errorf(i18n.Key("registry %q is not configured: add it with --upstream %s=https://… or in \"upstreams\""), registry, registry)
}

// CheckStore checks a store URL: "" (no store) or one objstore.ParseURL
// reads. Its error says what to change.
func CheckStore(raw string) error {
	if raw == "" {
		return nil
	}
	if _, err := objstore.ParseURL(raw); err != nil {
		return fmt.Errorf(i18n.Key("is not a valid store URL: %w"), err)
	}
	return nil
}

// maxCAFile bounds the upstream CA file read: a few certificates, not a
// disk image given by mistake.
const maxCAFile = 1 << 20

// CheckUpstreamCA checks an upstream_ca path: "" (the system's roots
// alone) or the absolute path of a file that holds at least one PEM
// certificate. Its error says what to change.
func CheckUpstreamCA(path string) error {
	_, err := readUpstreamCA(path)
	return err
}

// UpstreamCAPEM reads the upstream_ca file: its certificates as PEM, nil
// when upstream_ca is "". It reads the file each time, so a mirror
// restarted after the file changed trusts the new one.
func (s Settings) UpstreamCAPEM() ([]byte, error) {
	pemBytes, err := readUpstreamCA(s.UpstreamCA)
	if err != nil {
		return nil, &FieldError{Field: "upstream_ca", Value: s.UpstreamCA, Problem: err.Error()}
	}
	return pemBytes, nil
}

// readUpstreamCA reads and checks the CA file at path ("" is none).
func readUpstreamCA(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	if !filepath.IsAbs(path) {
		return nil, errors.New(i18n.Key("must be an absolute path"))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.New(i18n.Key("cannot be read: save the team mirror's CA certificate there (hubmirror setup ca on the team mirror prints it)"))
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil || len(raw) > maxCAFile {
		return nil, errors.New(i18n.Key("cannot be read: save the team mirror's CA certificate there (hubmirror setup ca on the team mirror prints it)"))
	}
	if !holdsCertificate(raw) {
		return nil, errors.New(i18n.Key("holds no PEM certificate: use a CA certificate file such as what hubmirror setup ca prints on the team mirror"))
	}
	return raw, nil
}

// holdsCertificate reports whether raw has at least one PEM CERTIFICATE
// block that parses.
func holdsCertificate(raw []byte) bool {
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			return false
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err == nil {
			return true
		}
	}
}

// RedactedStoreURL is a store URL as messages show it: without a
// password in it or in its endpoint, which a store URL must not hold but
// a mistaken one may.
func RedactedStoreURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") {
			return "…"
		}
		return raw
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		u.RawQuery = "…"
	} else if eps, ok := q["endpoint"]; ok {
		for i, ep := range eps {
			if e, err := url.Parse(ep); err == nil {
				eps[i] = e.Redacted()
			} else if strings.Contains(ep, "@") {
				eps[i] = "…"
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// CheckListen checks a host:port listen address.
func CheckListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New(i18n.Key("is not host:port (for example 127.0.0.1:5000)"))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New(i18n.Key("has no valid port: use a number from 1 to 65535"))
	}
	if host != "" && net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
		return errors.New(i18n.Key("has an invalid host: use an IP address such as 127.0.0.1, or localhost"))
	}
	return nil
}

var (
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`)
	registryRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`)
)

var usernameRE = regexp.MustCompile(`^[a-z0-9]{4,30}$`)

// CheckUsername checks a Docker Hub username: 4 to 30 lowercase letters
// and digits.
func CheckUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return errors.New(i18n.Key("is not a Docker Hub username: use 4 to 30 lowercase letters and digits"))
	}
	return nil
}

// CheckUpstream checks a registry name and its endpoint URL.
func CheckUpstream(name, endpoint string) error {
	if !registryRE.MatchString(name) {
		return fmt.Errorf(i18n.Key("registry name %q is not a lowercase host name such as docker.io or ghcr.io"), name)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf(i18n.Key("endpoint %q is not an http:// or https:// URL"), endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf(i18n.Key("endpoint %q must not carry a query, fragment or credentials (use hubmirror login)"), endpoint)
	}
	return nil
}
