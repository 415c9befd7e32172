package oci

import (
	"strings"
	"testing"
)

// tagChar reports whether c is in the tag alphabet of the OCI
// distribution spec.
func tagChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func isAlnumLower(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// FuzzValidName: an accepted name is path components that start and end
// alphanumeric, hold only the spec's separators and never "." or "..",
// so it names a folder under the cache's tags/ (the store's FuzzTagPath
// checks the path itself).
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"alpine", "library/alpine", "a/b/c", "a..b", "a/../b", "..", "a//b", "/a", "a/",
		"A", "a__b", "a___b", "a--b", "a.-b", "ghcr.io/owner/img", "a:b", `a\b`, strings.Repeat("a", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !ValidName(name) {
			return
		}
		if name == "" || len(name) > MaxNameLength {
			t.Fatalf("accepted %q of length %d", name, len(name))
		}
		for _, comp := range strings.Split(name, "/") {
			if comp == "" || comp == "." || comp == ".." || strings.Contains(comp, "..") {
				t.Fatalf("accepted %q: component %q", name, comp)
			}
			if !isAlnumLower(comp[0]) || !isAlnumLower(comp[len(comp)-1]) {
				t.Fatalf("accepted %q: component %q does not start and end alphanumeric", name, comp)
			}
			for i := 0; i < len(comp); i++ {
				if c := comp[i]; !isAlnumLower(c) && c != '.' && c != '_' && c != '-' {
					t.Fatalf("accepted %q: byte %q", name, c)
				}
			}
		}
	})
}

func FuzzValidTag(f *testing.F) {
	for _, s := range []string{"latest", "v1.2.3", "_x", ".hidden", "-x", "..", "a/b", "A-Z_0.9", strings.Repeat("t", 128), strings.Repeat("t", 129), "sha256:abc", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		if !ValidTag(tag) {
			return
		}
		if len(tag) == 0 || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
			t.Fatalf("accepted tag %q", tag)
		}
		for i := 0; i < len(tag); i++ {
			if !tagChar(tag[i]) {
				t.Fatalf("accepted tag %q: byte %q", tag, tag[i])
			}
		}
	})
}
