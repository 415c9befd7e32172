package upstream

import (
	"fmt"
	"strings"
	"testing"
)

// Table and fuzz tests of ParseChallenge, which reads upstream's (and the
// running mirror's) WWW-Authenticate headers. scripts/test.sh runs the
// fuzz target for a few seconds; a failing input lands in
// testdata/fuzz/FuzzParseChallenge/ and is committed as a regression test.

func TestParseChallenge(t *testing.T) {
	for _, c := range []struct {
		header string
		ok     bool
		scheme string
		params map[string]string
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`, true, "bearer",
			map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"}},
		{`Basic realm="Registry Realm"`, true, "basic", map[string]string{"realm": "Registry Realm"}},
		{`BEARER Realm="r", SERVICE="s"`, true, "bearer", map[string]string{"realm": "r", "service": "s"}},
		{`Bearer realm=https://auth.example/token,service=reg`, true, "bearer", map[string]string{"realm": "https://auth.example/token", "service": "reg"}},
		{`Bearer  realm = "r" ,  service = "s"`, true, "bearer", map[string]string{"realm": "r", "service": "s"}},
		{`Bearer scope="repository:a:pull,push",realm="r"`, true, "bearer", map[string]string{"scope": "repository:a:pull,push", "realm": "r"}},
		{`Bearer realm="a\"b\\c"`, true, "bearer", map[string]string{"realm": `a"b\c`}},
		{`Bearer realm="",service=""`, true, "bearer", map[string]string{"realm": "", "service": ""}},
		{`Bearer realm="r",realm="second"`, true, "bearer", map[string]string{"realm": "second"}},
		{`Bearer realm="unterminated`, true, "bearer", map[string]string{"realm": "unterminated"}},
		{`Bearer realm="ends in a backslash\`, true, "bearer", map[string]string{"realm": "ends in a backslash"}},
		{`Bearer`, true, "bearer", map[string]string{}},
		{`Bearer ,,,`, true, "bearer", map[string]string{}},
		{`Bearer no-equals-sign`, true, "bearer", map[string]string{}},
		{"  Bearer realm=r  ", true, "bearer", map[string]string{"realm": "r"}},
		{"", false, "", nil},
		{"   ", false, "", nil},
		{` realm="r"`, true, `realm="r"`, map[string]string{}},
	} {
		got, ok := ParseChallenge(c.header)
		if ok != c.ok {
			t.Errorf("ParseChallenge(%q): ok %v, want %v", c.header, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if got.Scheme != c.scheme {
			t.Errorf("ParseChallenge(%q): scheme %q, want %q", c.header, got.Scheme, c.scheme)
		}
		if fmt.Sprint(got.Params) != fmt.Sprint(c.params) {
			t.Errorf("ParseChallenge(%q): params %q, want %q", c.header, got.Params, c.params)
		}
	}
}

// TestParseChallengeHostile: very long or odd headers are parsed without
// running away, and the first challenge of several keeps its realm.
func TestParseChallengeHostile(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	for _, h := range []string{
		"Bearer realm=\"" + long,
		"Bearer " + strings.Repeat("k=v,", 1<<16),
		"Bearer " + strings.Repeat(`"`, 1<<16),
		"Bearer " + strings.Repeat(`\`, 1<<16),
		"Bearer realm=\x00\xff,service=\"\xfe\"",
	} {
		if c, ok := ParseChallenge(h); !ok || c.Scheme != "bearer" {
			t.Errorf("ParseChallenge(%.40q…) = %q, %v", h, c.Scheme, ok)
		}
	}
	c, _ := ParseChallenge(`Bearer realm="https://auth.example/token", Basic realm="other"`)
	if c.Scheme != "bearer" || c.Params["realm"] != "https://auth.example/token" {
		t.Errorf("first of two challenges: %q %q", c.Scheme, c.Params)
	}
}

// quote writes s as an RFC 9110 quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func FuzzParseChallenge(f *testing.F) {
	for _, s := range [][4]string{
		{"Bearer", "https://auth.docker.io/token", "registry.docker.io", "repository:library/alpine:pull"},
		{"Basic", "hubmirror", "", ""},
		{"bearer", `a"b\c`, "x,y", "repository:a:pull,push"},
		{"Bearer", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Add(`Bearer realm="unterminated`, "", "", "")
	f.Add(`Bearer realm=a\,service="b"`, "", "", "")
	f.Fuzz(func(t *testing.T, scheme, realm, service, scope string) {
		// Whatever the header, an accepted challenge is well formed.
		if c, ok := ParseChallenge(scheme); ok {
			if c.Scheme == "" || c.Scheme != strings.ToLower(c.Scheme) || strings.ContainsAny(c.Scheme, " ") {
				t.Fatalf("ParseChallenge(%q): scheme %q", scheme, c.Scheme)
			}
			for k := range c.Params {
				if k != strings.ToLower(k) || k != strings.TrimSpace(k) {
					t.Fatalf("ParseChallenge(%q): key %q", scheme, k)
				}
			}
		}
		// A header built from token characters and quoted strings reads back.
		if scheme == "" || !isToken(scheme) {
			return
		}
		header := scheme + " realm=" + quote(realm) + ",service=" + quote(service) + ", scope=" + quote(scope)
		c, ok := ParseChallenge(header)
		if !ok || c.Scheme != strings.ToLower(scheme) {
			t.Fatalf("ParseChallenge(%q) = %v, %v", header, c, ok)
		}
		for k, want := range map[string]string{"realm": realm, "service": service, "scope": scope} {
			if got := c.Params[k]; got != want {
				t.Fatalf("ParseChallenge(%q): %s = %q, want %q", header, k, got, want)
			}
		}
		if isToken(realm) && isToken(service) {
			header := scheme + " realm=" + realm + ",service=" + service
			c, ok := ParseChallenge(header)
			if !ok || c.Params["realm"] != realm || c.Params["service"] != service {
				t.Fatalf("ParseChallenge(%q) = %v", header, c.Params)
			}
		}
	})
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
