package settings

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tempHome(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
}

// A missing file is created with the defaults, mode 0600.
func TestLoadCreatesDefaults(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "sub", "settings.json")
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != "127.0.0.1:5000" || !strings.HasSuffix(s.CacheDir, "hubmirror") {
		t.Errorf("defaults: %+v", s)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("settings file mode %v, want 0600", info.Mode().Perm())
	}
	again, err := Load(path)
	if err != nil || again.Listen != s.Listen || again.CacheDir != s.CacheDir {
		t.Errorf("reload: %+v, %v", again, err)
	}
}

// A bad file gets a message that names the field and what to change.
func TestLoadReportsBadFields(t *testing.T) {
	tempHome(t)
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"syntax", "{\n  \"listen\": \"127.0.0.1:5000\",,\n}", []string{"line 2"}},
		{"unknown field", `{"lisen": "127.0.0.1:5000"}`, []string{`"lisen"`, `"listen"`}},
		{"wrong type", `{"listen": 5000}`, []string{`"listen"`, "string"}},
		{"bad listen", `{"listen": "localhost"}`, []string{`"listen"`, "host:port"}},
		{"bad port", `{"listen": "127.0.0.1:99999"}`, []string{`"listen"`, "port"}},
		{"relative cache", `{"cache_dir": "cache"}`, []string{`"cache_dir"`, "absolute"}},
		{"bad upstream url", `{"upstreams": {"docker.io": "ftp://x"}}`, []string{`"upstreams"`, "http"}},
		{"bad registry", `{"upstreams": {"Docker Hub": "https://x"}}`, []string{`"upstreams"`, "host name"}},
		{"empty", ``, []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "settings.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if got, _ := os.ReadFile(path); string(got) != tc.content {
				t.Errorf("a bad file was rewritten")
			}
		})
	}
}

// Flags override the file; only the flags given count.
func TestFlagsOverrideFile(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	file := `{"listen": "127.0.0.1:6000", "cache_dir": "/var/cache/hm", "upstreams": {"docker.io": "https://mirror.corp", "ghcr.io": "https://ghcr.io"}}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args                   []string
		listen, cache, dockerU string
	}{
		{nil, "127.0.0.1:6000", "/var/cache/hm", "https://mirror.corp"},
		{[]string{"--listen", "127.0.0.1:7000"}, "127.0.0.1:7000", "/var/cache/hm", "https://mirror.corp"},
		{[]string{"--cache-dir", "/tmp/c", "--upstream", "docker.io=http://127.0.0.1:9"}, "127.0.0.1:6000", "/tmp/c", "http://127.0.0.1:9"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f := Flags{}
		f.Register(fs)
		if err := fs.Parse(append([]string{"--config", path}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		s, got, err := f.Load()
		if err != nil {
			t.Fatal(err)
		}
		if got != path || s.Listen != tc.listen || s.CacheDir != tc.cache || s.Upstreams["docker.io"] != tc.dockerU || s.Upstreams["ghcr.io"] != "https://ghcr.io" {
			t.Errorf("%v: %+v", tc.args, s)
		}
	}
	if raw, _ := os.ReadFile(path); string(raw) != file {
		t.Errorf("flags were written to the file")
	}
}

// Bad flags get a message that names the flag.
func TestBadFlags(t *testing.T) {
	tempHome(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "nope"}, "--listen"},
		{[]string{"--upstream", "docker.io"}, "REGISTRY=URL"},
		{[]string{"--upstream", "docker.io=ftp://x"}, "http"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(&strings.Builder{})
		f := Flags{Config: filepath.Join(t.TempDir(), "s.json")}
		f.Register(fs)
		err := fs.Parse(tc.args)
		if err == nil {
			_, _, err = f.Load()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

// Save is atomic and keeps mode 0600 when rewriting a looser file.
func TestSaveKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Save(path, Settings{Listen: "127.0.0.1:5000", CacheDir: "/c"}); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after Save", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("Save left temp files: %v", entries)
	}
}

// self_auth and allowed_users come from the file and the flags, and names
// are checked against Docker Hub's username rules.
func TestAccessSettings(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(path, []byte(`{"self_auth": true, "allowed_users": ["alice", "bob2"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil || !s.SelfAuth || strings.Join(s.AllowedUsers, ",") != "alice,bob2" {
		t.Fatalf("load: %+v %v", s, err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := Flags{Config: path}
	f.Register(fs)
	if err := fs.Parse([]string{"--self-auth=false", "--allow-user", "carol", "--allow-user", "dave1"}); err != nil {
		t.Fatal(err)
	}
	s, _, err = f.Load()
	if err != nil || s.SelfAuth || strings.Join(s.AllowedUsers, ",") != "carol,dave1" {
		t.Errorf("flags: %+v %v", s, err)
	}

	for _, tc := range []struct{ content, want string }{
		{`{"allowed_users": ["Alice"]}`, "lowercase"},
		{`{"allowed_users": ["al"]}`, "4 to 30"},
		{`{"allowed_users": ["alice", "alice"]}`, "twice"},
		{`{"allowed_users": "alice"}`, "a list"},
		{`{"self_auth": "yes"}`, `"self_auth" must be a bool`},
	} {
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.content, err, tc.want)
		}
	}
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	f = Flags{}
	f.Register(fs)
	if err := fs.Parse([]string{"--allow-user", "Bad Name"}); err == nil || !strings.Contains(err.Error(), "username") {
		t.Errorf("bad --allow-user: %v", err)
	}
}

// Aliases name mirrored registries; --alias adds to them.
func TestAliases(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	for _, tc := range []struct{ content, want string }{
		{`{"aliases": {"ghcr.mirror.lan": "ghcr.io"}}`, ""},
		{`{"aliases": {"corp.lan": "registry.corp"}, "upstreams": {"registry.corp": "https://registry.corp"}}`, ""},
		{`{"aliases": {"x.lan": "nowhere.example"}}`, "not mirrored"},
		{`{"aliases": {"not a host": "ghcr.io"}}`, "not a host name"},
	} {
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.content, err, tc.want)
		}
	}
	if err := os.WriteFile(path, []byte(`{"aliases": {"x.lan": "ghcr.io"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := Flags{Config: path}
	f.Register(fs)
	if err := fs.Parse([]string{"--alias", "Quay.Mirror.Lan=quay.io"}); err != nil {
		t.Fatal(err)
	}
	s, _, err := f.Load()
	if err != nil || s.Aliases["quay.mirror.lan"] != "quay.io" || s.Aliases["x.lan"] != "ghcr.io" {
		t.Errorf("--alias: %v %v", s.Aliases, err)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"20GiB", 20 << 30}, {"20gib", 20 << 30}, {"500MB", 500e6}, {"500 MB", 500e6}, {"1.5g", 3 << 29},
		{"1TB", 1e12}, {"1024", 1024}, {"64KiB", 64 << 10}, {"2t", 2 << 40},
	} {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "lots", "-5GB", "0", "GB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	if got := FormatSize(20 << 30); got != "20GiB" {
		t.Errorf("FormatSize = %q", got)
	}
}

func TestCacheMax(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(path, []byte(`{"cache_max": "a lot"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `"cache_max"`) {
		t.Errorf("bad cache_max: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"cache_max": "10GiB"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil || s.CacheMaxBytes() != 10<<30 {
		t.Errorf("cache_max 10GiB: %d %v", s.CacheMaxBytes(), err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f := Flags{Config: path}
	f.Register(fs)
	if err := fs.Parse([]string{"--cache-max", "3GB"}); err != nil {
		t.Fatal(err)
	}
	if s, _, err := f.Load(); err != nil || s.CacheMaxBytes() != 3e9 {
		t.Errorf("--cache-max 3GB: %d %v", s.CacheMaxBytes(), err)
	}
	def := Settings{CacheDir: t.TempDir()}.CacheMaxBytes()
	if def < 5<<30 || def > 100<<30 {
		t.Errorf("default cache_max %d is outside 5..100 GiB", def)
	}
}
