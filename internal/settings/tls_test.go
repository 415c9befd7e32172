package settings

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

// "tls" takes three forms, and each goes through a save and a load.
func TestTLSSettingForms(t *testing.T) {
	tempHome(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, value string
		want        TLS
		proxy       mirror.TLS
	}{
		{"default", ``, TLS{}, mirror.TLS{}},
		{"off", `"off"`, TLS{Mode: TLSOff}, mirror.TLS{}},
		{"auto", `"auto"`, TLS{Mode: TLSAuto}, mirror.TLS{Mode: mirror.TLSAuto, Dir: dir}},
		{"files", `{"cert": "/etc/ssl/m.crt", "key": "/etc/ssl/m.key"}`,
			TLS{Mode: TLSFiles, Cert: "/etc/ssl/m.crt", Key: "/etc/ssl/m.key"},
			mirror.TLS{Mode: mirror.TLSFiles, CertFile: "/etc/ssl/m.crt", KeyFile: "/etc/ssl/m.key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "settings.json")
			content := `{"insecure_login": true}`
			if tc.value != "" {
				content = `{"tls": ` + tc.value + `, "insecure_login": true}`
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if s.TLS != tc.want || !s.InsecureLogin || s.ProxyTLS(path) != tc.proxy {
				t.Fatalf("got %+v %v %+v", s.TLS, s.InsecureLogin, s.ProxyTLS(path))
			}
			if err := Save(path, s); err != nil {
				t.Fatal(err)
			}
			again, err := Load(path)
			if err != nil || again.ProxyTLS(path) != tc.proxy {
				t.Errorf("after save: %+v, %v", again.TLS, err)
			}
		})
	}
}

// A new settings file says "tls": "off" and "insecure_login": false, so
// people find both.
func TestDefaultsNameTLS(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m["tls"] != "off" || m["insecure_login"] != false {
		t.Errorf("defaults: %s", raw)
	}
}

// A bad "tls" value gets a message that names the setting and the forms
// it may take.
func TestBadTLSSetting(t *testing.T) {
	tempHome(t)
	for _, tc := range []struct{ name, value, want string }{
		{"unknown word", `"on"`, `"tls": "on" is not a tls setting: use "off", "auto"`},
		{"boolean", `true`, `"tls": "true" is not a tls setting`},
		{"unknown key", `{"certificate": "/a"}`, `{"cert": "/path/to/server.crt"`},
		{"missing key", `{"cert": "/etc/ssl/m.crt"}`, `needs "cert" and "key"`},
		{"relative", `{"cert": "m.crt", "key": "m.key"}`, `absolute paths`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "settings.json")
			if err := os.WriteFile(path, []byte(`{"tls": `+tc.value+`}`), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want it to name %s and say %s", err, path, tc.want)
			}
		})
	}
}

// --tls and --insecure-login override the file; a bad --tls names the flag.
func TestTLSFlags(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	var f Flags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--config", path, "--tls", "auto", "--insecure-login"}); err != nil {
		t.Fatal(err)
	}
	s, _, err := f.Load()
	if err != nil || s.TLS.Mode != TLSAuto || !s.InsecureLogin {
		t.Fatalf("%+v %v", s, err)
	}
	var bad Flags
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	bad.Register(fs)
	if err := fs.Parse([]string{"--config", path, "--tls", "yes"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bad.Load(); err == nil || !strings.Contains(err.Error(), `--tls "yes" is not off or auto`) {
		t.Errorf("bad --tls: %v", err)
	}
}

// "" and "off" are one setting: a settings file that spells it out must not
// look like a change (which restarts a running mirror).
func TestTLSSame(t *testing.T) {
	for _, tc := range []struct {
		a, b TLS
		same bool
	}{
		{TLS{}, TLS{Mode: TLSOff}, true},
		{TLS{Mode: TLSAuto}, TLS{Mode: TLSAuto}, true},
		{TLS{Mode: TLSAuto}, TLS{}, false},
		{TLS{Mode: TLSFiles, Cert: "a", Key: "b"}, TLS{Mode: TLSFiles, Cert: "a", Key: "c"}, false},
		{TLS{Mode: TLSOff, Cert: "x"}, TLS{}, true},
	} {
		if got := tc.a.Same(tc.b); got != tc.same {
			t.Errorf("%+v.Same(%+v) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
