package oci

import (
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// digestRE is every digest the mirror accepts, and nothing else.
var digestRE = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

// TestParseDigest pins which digests the mirror accepts (from clients, in
// paths, from upstream headers and manifests): go-digest's format, with
// sha256 and sha512 only.
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
		{"sha512:" + hex64, false},                   // sha256 length under sha512
		{"sha384:" + strings.Repeat("a", 96), false}, // go-digest knows it; the mirror refuses it
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
		d, err := ParseDigest(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseDigest(%q): error %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if err != nil {
			if d != "" {
				t.Errorf("ParseDigest(%q) refused but returned %q", c.in, d)
			}
			if !strings.Contains(err.Error(), "sha256") {
				t.Errorf("ParseDigest(%q): error %q does not say what to write", c.in, err)
			}
			continue
		}
		algo, hx, _ := strings.Cut(c.in, ":")
		if string(d) != c.in || d.Algorithm().String() != algo || d.Encoded() != hx || d.String() != c.in {
			t.Errorf("ParseDigest(%q) = %q (algorithm %q, hex %q)", c.in, d, d.Algorithm(), d.Encoded())
		}
	}
}

// TestParseDigestOfContent: the digest of some bytes parses, re-formats to
// itself and verifies the bytes, so what the mirror computes and what it
// accepts from clients are one format.
func TestParseDigestOfContent(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("x"), []byte(strings.Repeat("pattern ", 512))} {
		for _, want := range []digest.Digest{digest.FromBytes(b), digest.SHA512.FromBytes(b)} {
			d, err := ParseDigest(want.String())
			if err != nil || d != want {
				t.Fatalf("ParseDigest(%s of %d bytes) = %q, %v", want.Algorithm(), len(b), d, err)
			}
			v := d.Verifier()
			_, _ = v.Write(b)
			if !v.Verified() {
				t.Errorf("%s does not match its own content", d)
			}
			_, _ = v.Write([]byte("more"))
			if v.Verified() {
				t.Errorf("%s matches other content", d)
			}
		}
	}
}

func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{
		"sha256:" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("0", 128), "sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("a", 63), "sha384:" + strings.Repeat("a", 96), "sha256:../../../../etc/passwd",
		"sha256", ":", "sha256:" + strings.Repeat("a", 62) + "/.", "md5:d41d8cd98f00b204e9800998ecf8427e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			if digestRE.MatchString(s) {
				t.Fatalf("refused %q: %v", s, err)
			}
			if CheckDigest(digest.Digest(s)) == nil {
				t.Fatalf("ParseDigest refused %q, CheckDigest accepts it", s)
			}
			return
		}
		if string(d) != s || !digestRE.MatchString(s) {
			t.Fatalf("accepted %q", s)
		}
		if again := d.Algorithm().String() + ":" + d.Encoded(); again != s {
			t.Fatalf("%q re-formats as %q", s, again)
		}
		want := map[string]int{"sha256": 64, "sha512": 128}[d.Algorithm().String()]
		if want == 0 || len(d.Encoded()) != want || d.Encoded() != strings.ToLower(d.Encoded()) {
			t.Fatalf("accepted %q: algorithm %q, hex %q", s, d.Algorithm(), d.Encoded())
		}
		if h := d.Algorithm().Hash(); h.Size()*2 != want {
			t.Fatalf("%q: hash of %d bytes for %d hex characters", s, h.Size(), want)
		}
		if strings.ContainsAny(d.Encoded(), `/\.:`) {
			t.Fatalf("accepted %q: its hex would not be one file name", s)
		}
	})
}
