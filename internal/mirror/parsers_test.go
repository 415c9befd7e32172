package mirror

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Table tests for the parsers of client and upstream input: what each
// accepts, what it refuses, and what it makes of hostile input. The fuzz
// targets in fuzz_test.go and below check the same functions' properties
// over inputs nobody thought of.

func TestParseDigest(t *testing.T) {
	hex64, hex128 := strings.Repeat("ab", 32), strings.Repeat("0f", 64)
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"sha256:" + hex64, true},
		{"sha512:" + hex128, true},
		{"sha256:" + strings.Repeat("0", 64), true},
		{"sha256:" + strings.ToUpper(hex64), false}, // hex must be lowercase
		{"SHA256:" + hex64, false},
		{"sha256:" + hex64[:63], false},
		{"sha256:" + hex64 + "a", false},
		{"sha512:" + hex64, false}, // sha256 length under sha512
		{"sha384:" + strings.Repeat("a", 96), false},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", false},
		{"sha256", false},
		{"sha256:", false},
		{":" + hex64, false},
		{"", false},
		{hex64, false},
		{" sha256:" + hex64, false},
		{"sha256:" + hex64 + "\n", false},
		{"sha256:" + hex64[:62] + "/.", false},
		{"sha256:../../../../../../../../../../../../../../../../etc/passwd", false},
		{"sha256:" + hex64[:60] + "g123", false},
		{"sha256:" + hex64[:62] + "é", false}, // 64 bytes, not hex
		{"sha256:" + hex64 + ":" + hex64, false},
	} {
		d, err := parseDigest(c.in)
		if (err == nil) != c.ok {
			t.Errorf("parseDigest(%q): error %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if err != nil {
			if d != "" {
				t.Errorf("parseDigest(%q) refused but returned %q", c.in, d)
			}
			continue
		}
		algo, hx, _ := strings.Cut(c.in, ":")
		if string(d) != c.in || d.algorithm() != algo || d.hex() != hx || d.algorithm()+":"+d.hex() != c.in {
			t.Errorf("parseDigest(%q) = %q (algorithm %q, hex %q)", c.in, d, d.algorithm(), d.hex())
		}
	}
}

// TestParseDigestOfContent: the digest of some bytes parses, re-formats to
// itself and matches the bytes' hash, so what the mirror computes and what
// it accepts from clients are one format.
func TestParseDigestOfContent(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("x"), pattern(4096)} {
		want := digestOf(b)
		d, err := parseDigest(string(want))
		if err != nil || d != want {
			t.Fatalf("parseDigest(digestOf(%d bytes)) = %q, %v", len(b), d, err)
		}
		h := d.newHash()
		h.Write(b)
		if !d.matches(h.Sum(nil)) {
			t.Errorf("%s does not match its own content", d)
		}
		h.Write([]byte("more"))
		if d.matches(h.Sum(nil)) {
			t.Errorf("%s matches other content", d)
		}
	}
}

func TestParseRange(t *testing.T) {
	type result struct {
		from, to    int64
		partial, ok bool
	}
	whole := func(size int64) result { return result{0, size, false, true} }
	refused := result{}
	for _, c := range []struct {
		h    string
		size int64
		want result
	}{
		{"", 10, whole(10)}, // no Range header: the whole blob
		{"bytes=0-", 10, result{0, 10, true, true}},
		{"bytes=0-0", 10, result{0, 1, true, true}},
		{"bytes=2-4", 10, result{2, 5, true, true}},
		{"bytes=9-9", 10, result{9, 10, true, true}},
		{"bytes=9-100", 10, result{9, 10, true, true}}, // the end is clamped
		{"bytes=0-9223372036854775807", 10, result{0, 10, true, true}},
		{"bytes=-3", 10, result{7, 10, true, true}},
		{"bytes=-10", 10, result{0, 10, true, true}},
		{"bytes=-30", 10, result{0, 10, true, true}}, // a suffix longer than the blob is all of it
		{"bytes= 2-4 ", 10, result{2, 5, true, true}},
		{"bytes=0-1,3-4", 10, whole(10)}, // several ranges: the whole blob
		{"items=0-1", 10, whole(10)},     // another unit: ignored
		{"Bytes=0-1", 10, whole(10)},
		{"bytes=10-", 10, refused}, // starts at the end
		{"bytes=11-12", 10, refused},
		{"bytes=5-3", 10, refused},
		{"bytes=-0", 10, refused},
		{"bytes=-1", 0, refused}, // nothing to take a suffix of
		{"bytes=0-", 0, refused},
		{"bytes=", 10, refused},
		{"bytes=-", 10, refused},
		{"bytes=a-b", 10, refused},
		{"bytes=2 - 4", 10, refused},
		{"bytes=--3", 10, refused},
		{"bytes=-9223372036854775808", 10, refused},
		{"bytes=9223372036854775808-", 10, refused}, // overflows int64
		{"bytes=0-9223372036854775808", 10, refused},
		{"bytes=0x1-", 10, refused},
		{"bytes=1e3-", 10000, refused},
	} {
		from, to, partial, ok := parseRange(c.h, c.size)
		if got := (result{from, to, partial, ok}); got != c.want {
			t.Errorf("parseRange(%q, %d) = %+v, want %+v", c.h, c.size, got, c.want)
		}
	}
}

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
		got, ok := parseChallenge(c.header)
		if ok != c.ok {
			t.Errorf("parseChallenge(%q): ok %v, want %v", c.header, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if got.Scheme != c.scheme {
			t.Errorf("parseChallenge(%q): scheme %q, want %q", c.header, got.Scheme, c.scheme)
		}
		if fmt.Sprint(got.Params) != fmt.Sprint(c.params) {
			t.Errorf("parseChallenge(%q): params %q, want %q", c.header, got.Params, c.params)
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
		if c, ok := parseChallenge(h); !ok || c.Scheme != "bearer" {
			t.Errorf("parseChallenge(%.40q…) = %q, %v", h, c.Scheme, ok)
		}
	}
	c, _ := parseChallenge(`Bearer realm="https://auth.example/token", Basic realm="other"`)
	if c.Scheme != "bearer" || c.Params["realm"] != "https://auth.example/token" {
		t.Errorf("first of two challenges: %q %q", c.Scheme, c.Params)
	}
}

func TestPullScope(t *testing.T) {
	for _, c := range []struct {
		scope, name string
		ok          bool
	}{
		{"repository:library/alpine:pull", "library/alpine", true},
		{"repository:alpine:pull", "alpine", true},
		{"repository:a:push,pull", "a", true},
		{"repository:a:pull,push", "a", true},
		{"repository:a:*", "a", true},
		{"repository:a:pull,", "a", true},
		{"repository:ghcr.io/owner/img:pull", "ghcr.io/owner/img", true},
		{"repository:a:push", "", false},
		{"repository:a:delete", "", false},
		{"repository:a:", "", false},
		{"repository:a:PULL", "", false},
		{"repository:a: pull", "", false},
		{"repository:a", "", false},
		{"repository::pull", "", false},
		{"repository:A:pull", "", false},
		{"repository:a:b:pull", "", false}, // "a:b" is no repository name
		{"repository:../etc:pull", "", false},
		{"repository:a/../b:pull", "", false},
		{"repository:/a:pull", "", false},
		{"repository:" + strings.Repeat("a", 256) + ":pull", "", false},
		{"registry:catalog:*", "", false},
		{"Repository:a:pull", "", false},
		{" repository:a:pull", "", false},
		{"", "", false},
	} {
		name, ok := pullScope(c.scope)
		if name != c.name || ok != c.ok {
			t.Errorf("pullScope(%q) = %q, %v; want %q, %v", c.scope, name, ok, c.name, c.ok)
		}
	}
}

// TestTagPathLayout pins where tag records live, since a cache written by
// one version is read by the next, and that `cache ls` (Images) reads each
// back as the registry, repository and tag it was written for.
func TestTagPathLayout(t *testing.T) {
	for _, c := range []struct {
		registry, repo, tag string
		rel                 string // under tags/, with slashes
	}{
		{"docker.io", "library/alpine", "latest", "docker.io/library/alpine/latest.json"},
		{"localhost:5000", "a/b", "V1.2-rc_3", "localhost_5000/a/b/^v1.2-rc_3.json"},
		{"ghcr.io", "owner/img", "ABC", "ghcr.io/owner/img/^a^b^c.json"},
		{"ghcr.io", "owner/img", "abc", "ghcr.io/owner/img/abc.json"},
		{"quay.io", "a/b/c/d", "_x", "quay.io/a/b/c/d/_x.json"},
		{"registry.example:443", "x", strings.Repeat("Z", 64) + strings.Repeat("z", 64), "registry.example_443/x/" + strings.Repeat("^z", 64) + strings.Repeat("z", 64) + ".json"},
	} {
		c2 := &diskCache{root: fuzzRoot}
		want := filepath.Join(fuzzRoot, "tags", filepath.FromSlash(c.rel))
		if got := c2.tagPath(c.registry, c.repo, c.tag); got != want {
			t.Errorf("tagPath(%q, %q, %q) = %s, want %s", c.registry, c.repo, c.tag, got, want)
		}
		checkTagRoundTrip(t, c.registry, c.repo, c.tag)
	}
}

// checkTagRoundTrip records a tag in a fresh cache and checks that Images
// lists it as exactly that registry, repository and tag.
func checkTagRoundTrip(t *testing.T, registry, repo, tag string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := &diskCache{root: root}
	m := cachedManifest{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: digestOf([]byte(tag))}
	if err := c.recordTag(registry, repo, tag, m); err != nil {
		t.Fatalf("record %s/%s:%s: %v", registry, repo, tag, err)
	}
	imgs, err := (&Cache{c: c}).Images()
	if err != nil {
		t.Fatalf("Images: %v", err)
	}
	want := CachedImage{Registry: registry, Repo: repo, Tag: tag, Digest: string(m.Digest)}
	if len(imgs) != 1 || imgs[0] != want {
		t.Fatalf("recorded %s/%s:%s, Images lists %+v", registry, repo, tag, imgs)
	}
}

// registryHost reports whether s is a registry as the mirror's settings
// name one: a lowercase host name, and a port perhaps.
func registryHost(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort && (port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "") {
		return false
	}
	if host == "" || host[0] == '.' || host[0] == '-' || host[len(host)-1] == '.' || host[len(host)-1] == '-' || strings.Contains(host, "..") {
		return false
	}
	return strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") == ""
}

// maxFileName is the longest file name most file systems take. A valid tag
// of 123 or more uppercase letters encodes to a longer name than that, so
// its record cannot be written: a known limit of the layout, not what this
// fuzz target looks for.
const maxFileName = 255

// FuzzTagPathRoundTrip: a tag record written for any valid registry,
// repository and tag is listed by Images as exactly what was written, and
// untagName undoes tagPath's encoding of the tag.
func FuzzTagPathRoundTrip(f *testing.F) {
	for _, s := range [][3]string{
		{"docker.io", "library/alpine", "latest"}, {"localhost:5000", "a/b", "V1"}, {"ghcr.io", "o/i", "ABC_def.1-Z"},
		{"quay.io", "a.b/c__d/e-f", "_"}, {"r", "a", "Z"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	c := &diskCache{root: fuzzRoot}
	f.Fuzz(func(t *testing.T, registry, repo, tag string) {
		if !validTag(tag) {
			return
		}
		encoded := strings.TrimSuffix(filepath.Base(c.tagPath(dockerHub, "a", tag)), ".json")
		if got := untagName(encoded); got != tag {
			t.Fatalf("tag %q is stored as %q, which reads back as %q", tag, encoded, got)
		}
		if !registryHost(registry) || !validName(repo) || len(encoded)+len(".json") > maxFileName {
			return
		}
		checkTagRoundTrip(t, registry, repo, tag)
	})
}

// FuzzParseRangeBuilt builds well-formed single ranges and checks that
// parseRange gives the bytes RFC 9110 says they select: a first-last range
// is clamped to the blob, a suffix range is the last bytes, and a range
// that starts past the end is refused.
func FuzzParseRangeBuilt(f *testing.F) {
	for _, s := range []struct {
		first, last int64
		form        uint8
		size        int64
	}{
		{0, 0, 0, 10}, {2, 4, 0, 10}, {9, 100, 0, 10}, {10, 20, 0, 10}, {0, 0, 1, 10}, {5, 0, 1, 10},
		{0, 3, 2, 10}, {0, 30, 2, 10}, {0, 1, 2, 0}, {0, math.MaxInt64, 0, 10}, {math.MaxInt64 - 1, 0, 1, math.MaxInt64},
	} {
		f.Add(s.first, s.last, s.form, s.size)
	}
	f.Fuzz(func(t *testing.T, first, last int64, form uint8, size int64) {
		if first < 0 || last < 0 || size < 0 {
			return // not a well-formed range, or not a blob
		}
		var h string
		var wantFrom, wantTo int64
		var wantOK bool
		switch form % 3 {
		case 0: // bytes=first-last
			h = fmt.Sprintf("bytes=%d-%d", first, last)
			wantOK = first <= last && first < size
			wantFrom, wantTo = first, min(last, size-1)+1
		case 1: // bytes=first-
			h = fmt.Sprintf("bytes=%d-", first)
			wantOK = first < size
			wantFrom, wantTo = first, size
		default: // bytes=-suffix, the suffix in last
			h = fmt.Sprintf("bytes=-%d", last)
			wantOK = last > 0 && size > 0
			wantFrom, wantTo = max(size-last, 0), size
		}
		from, to, partial, ok := parseRange(h, size)
		if ok != wantOK {
			t.Fatalf("parseRange(%q, %d): ok %v, want %v", h, size, ok, wantOK)
		}
		if !ok {
			return
		}
		if !partial || from != wantFrom || to != wantTo {
			t.Fatalf("parseRange(%q, %d) = [%d, %d) partial %v, want [%d, %d)", h, size, from, to, partial, wantFrom, wantTo)
		}
		if from < 0 || from >= to || to > size {
			t.Fatalf("parseRange(%q, %d) = [%d, %d): outside the blob", h, size, from, to)
		}
	})
}
