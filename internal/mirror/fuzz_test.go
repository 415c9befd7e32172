package mirror

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Fuzz targets for every parser that reads client or upstream input. Each
// checks what an accepted input promises, not only that nothing panics.
// scripts/test.sh runs each for a few seconds on every CI run; a failing
// input lands in testdata/fuzz/FuzzXxx/ and is committed as a regression
// test, which plain `go test` then runs. The parsers of digests, names
// and tags are package oci's, and the cache paths package store's: their
// fuzz targets live there.

// fuzzServer is just enough of a server for parse and registryFor.
func fuzzServer() *server {
	ups := map[string]*registry{}
	for _, r := range []string{dockerHub, "ghcr.io", "quay.io"} {
		ups[r] = &registry{name: r}
	}
	return &server{upstreams: ups, aliases: map[string]string{"ghcr.mirror.test": "ghcr.io"}}
}

// FuzzParseRoute builds a path from a name, a reference and a kind, and
// checks that parse takes it apart into the same pieces, or refuses it, and
// that whatever it accepts is valid: a valid name, tag and digest name
// files inside the cache (the store's FuzzTagPath and FuzzDigestPath).
func FuzzParseRoute(f *testing.F) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, s := range []struct {
		name, ref string
		kind      uint8
	}{
		{"alpine", "latest", 0}, {"library/alpine", d, 0}, {"alpine", d, 1}, {"alpine", "", 2},
		{"ghcr.io/owner/img", "v1", 0}, {"a/manifests/b", "latest", 2}, {"a/blobs/b", d, 1},
		{"a/manifests/b", d, 1}, {"ghcr.io", "latest", 0}, {"unknown.io/x", "v1", 0}, {"a", "../x", 0},
		{"a", "sha256:..", 0}, {"a/blobs/uploads/x", d, 1},
	} {
		f.Add(s.name, s.ref, s.kind)
	}
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, name, ref string, kind uint8) {
		var path string
		switch kind % 3 {
		case 0:
			path = "/v2/" + name + "/manifests/" + ref
		case 1:
			path = "/v2/" + name + "/blobs/" + ref
		default:
			path = "/v2/" + name + "/tags/list"
		}
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}, Host: "127.0.0.1:5000"}
		rt, err := s.parse(r)
		// A valid name and reference must come back as they were written
		// (a name holding "blobs/uploads" is taken for an upload first).
		refOK := kind%3 == 2 || kind%3 == 0 && validTag(ref) || validDigestString(ref)
		wantRegistry, wantRepo, mirrored := wantRoute(s, name)
		canonical := validName(name) && refOK && !strings.Contains(name, "blobs/uploads")
		if canonical && mirrored && err != nil {
			t.Fatalf("%s: refused a valid request: %v", path, err)
		}
		if err != nil {
			return
		}
		switch {
		case rt.kind == "base":
			t.Fatalf("%s parsed as the base endpoint", path)
		case rt.registry == nil || s.upstreams[rt.registry.name] != rt.registry:
			t.Fatalf("%s: no mirrored registry", path)
		case !validName(rt.repo):
			t.Fatalf("%s: invalid repository %q", path, rt.repo)
		case rt.kind == "manifest" && (rt.tag == "") == (rt.digest == ""):
			t.Fatalf("%s: tag %q and digest %q", path, rt.tag, rt.digest)
		case rt.kind == "blob" && (rt.tag != "" || rt.digest == ""):
			t.Fatalf("%s: tag %q, digest %q", path, rt.tag, rt.digest)
		case rt.kind == "tags" && (rt.tag != "" || rt.digest != ""):
			t.Fatalf("%s: tag %q, digest %q", path, rt.tag, rt.digest)
		case rt.tag != "" && !validTag(rt.tag):
			t.Fatalf("%s: tag %q", path, rt.tag)
		case rt.digest != "" && !validDigestString(string(rt.digest)):
			t.Fatalf("%s: digest %q", path, rt.digest)
		}
		if !canonical {
			return
		}
		want := map[uint8]string{0: "manifest", 1: "blob", 2: "tags"}[kind%3]
		if !mirrored || rt.kind != want || rt.registry.name != wantRegistry || rt.repo != wantRepo {
			t.Fatalf("%s: parsed as %s of %s/%s, want %s of %s/%s", path, rt.kind, rt.registry.name, rt.repo, want, wantRegistry, wantRepo)
		}
		if kind%3 != 2 && ref != rt.tag && ref != string(rt.digest) {
			t.Fatalf("%s: reference %q, tag %q, digest %q", path, ref, rt.tag, rt.digest)
		}
		if got := clientName(path); got != name {
			t.Fatalf("clientName(%q) = %q, want %q (the challenge would name another repository)", path, got, name)
		}
	})
}

// wantRoute is the registry and upstream repository a client's valid name
// stands for, and whether that registry is mirrored by s.
func wantRoute(s *server, name string) (registry, repo string, ok bool) {
	registry, repo = dockerHub, name
	if first, rest, _ := strings.Cut(name, "/"); strings.Contains(first, ".") {
		registry, repo = first, rest
	}
	return registry, repoName(registry, repo), s.upstreams[registry] != nil && repo != ""
}

var digestRE = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

func validDigestString(s string) bool { return digestRE.MatchString(s) }

// FuzzClientName checks that the name a challenge names is the one the
// client wrote, for every valid name and reference.
func FuzzClientName(f *testing.F) {
	for _, s := range []string{"alpine", "a/manifests/b", "a/blobs/b", "a/tags/list/b", "manifests", "blobs/x"} {
		f.Add(s, "latest", uint8(0))
		f.Add(s, "", uint8(2))
	}
	f.Fuzz(func(t *testing.T, name, ref string, kind uint8) {
		if !validName(name) {
			return
		}
		var path string
		switch kind % 3 {
		case 0:
			if !validTag(ref) && !validDigestString(ref) {
				return
			}
			path = "/v2/" + name + "/manifests/" + ref
		case 1:
			if !validDigestString(ref) {
				return
			}
			path = "/v2/" + name + "/blobs/" + ref
		default:
			path = "/v2/" + name + "/tags/list"
		}
		if got := clientName(path); got != name {
			t.Fatalf("clientName(%q) = %q, want %q", path, got, name)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []struct {
		h    string
		size int64
	}{
		{"bytes=0-", 10}, {"bytes=0-0", 10}, {"bytes=5-3", 10}, {"bytes=-3", 10}, {"bytes=-30", 10}, {"bytes=10-", 10},
		{"bytes=9-100", 10}, {"bytes=-0", 10}, {"bytes=0-1,3-4", 10}, {"items=0-1", 10}, {"bytes=-1", 1},
		{"bytes=+1-", 10}, {"bytes= 2 - 4", 10}, {"bytes=-9223372036854775808", 10}, {"bytes=0-9223372036854775807", 10},
	} {
		f.Add(s.h, s.size)
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return // the caller parses a Range only for a known size
		}
		from, to, partial, ok := parseRange(h, size)
		if !ok {
			return
		}
		if !partial {
			if from != 0 || to != size {
				t.Fatalf("parseRange(%q, %d): whole body as [%d, %d)", h, size, from, to)
			}
			return
		}
		if from < 0 || from >= to || to > size {
			t.Fatalf("parseRange(%q, %d) = [%d, %d): not a non-empty range inside the blob", h, size, from, to)
		}
	})
}

func FuzzRegistryFor(f *testing.F) {
	for _, s := range [][3]string{
		{"alpine", "", "127.0.0.1:5000"}, {"ghcr.io/owner/img", "", ""}, {"owner/img", "ghcr.io", ""},
		{"owner/img", "GHCR.IO", ""}, {"owner/img", "", "GHCR.mirror.test:443"}, {"owner/img", "", "ghcr.mirror.test"},
		{"ghcr.io", "", ""}, {"owner/img", "../../etc", ""}, {"owner/img", "", "[::1]:5000"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, name, ns, host string) {
		q := url.Values{}
		if ns != "" {
			q.Set("ns", ns)
		}
		r := &http.Request{URL: &url.URL{Path: "/v2/" + name + "/tags/list", RawQuery: q.Encode()}, Host: host}
		registry, repo := s.registryFor(r, name)
		first, rest, _ := strings.Cut(name, "/")
		switch {
		case strings.Contains(first, "."):
			if registry != first || repo != rest {
				t.Fatalf("%q: %q %q, want the path's registry", name, registry, repo)
			}
		case ns != "" && q.Get("ns") == ns:
			if registry != strings.ToLower(ns) || repo != name {
				t.Fatalf("%q ns=%q: %q %q", name, ns, registry, repo)
			}
		default:
			if repo != name || (registry != dockerHub && registry != "ghcr.io") {
				t.Fatalf("%q host %q: %q %q", name, host, registry, repo)
			}
			h := strings.ToLower(host)
			if hh, _, found := strings.Cut(h, ":"); found && !strings.HasPrefix(h, "[") {
				h = hh
			}
			if (registry == "ghcr.io") != (h == "ghcr.mirror.test") {
				t.Fatalf("host %q chose %q", host, registry)
			}
		}
		if validName(name) && repo != "" && !validName(repo) {
			t.Fatalf("valid %q gave invalid repository %q", name, repo)
		}
	})
}

func FuzzPullScope(f *testing.F) {
	for _, s := range []string{"repository:library/alpine:pull", "repository:a:push,pull", "repository:a:*", "repository:a:push",
		"repository:a", "registry:catalog:*", "repository:ghcr.io/o/i:pull", "repository::pull", "repository:a:b:pull",
		"repository:A:pull", "repository:a:pull,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sc string) {
		name, ok := pullScope(sc)
		if !ok {
			if name != "" {
				t.Fatalf("pullScope(%q) refused but named %q", sc, name)
			}
			if n, acts, found := strings.Cut(strings.TrimPrefix(sc, "repository:"), ":"); found && strings.HasPrefix(sc, "repository:") &&
				validName(n) && !strings.Contains(acts, ":") {
				for _, a := range strings.Split(acts, ",") {
					if a == "pull" || a == "*" {
						t.Fatalf("pullScope(%q) refused a pull scope", sc)
					}
				}
			}
			return
		}
		if !validName(name) {
			t.Fatalf("pullScope(%q) = invalid name %q", sc, name)
		}
		actions, found := strings.CutPrefix(sc, "repository:"+name+":")
		if !found {
			t.Fatalf("pullScope(%q) = %q, not the scope's name", sc, name)
		}
		var pull bool
		for _, a := range strings.Split(actions, ",") {
			pull = pull || a == "pull" || a == "*"
		}
		if !pull {
			t.Fatalf("pullScope(%q) accepted actions %q", sc, actions)
		}
	})
}

// FuzzParseRef: an accepted image reference writes back to a reference
// that parses to the same image (so a pin stored as written is the pin
// read back), names a valid repository, and has a tag or a digest.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"alpine", "alpine:3.20", "library/alpine:3.20", "index.docker.io/library/alpine:3.20",
		"ghcr.io/owner/app:1", "localhost:5001/app", "Owner/app", "nginx@sha256:" + strings.Repeat("a", 64),
		"nginx@sha384:" + strings.Repeat("a", 96), "a//b", "[::1]:5000/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if !validName(r.Repo) || (r.Tag == "" && r.Digest == "") || r.Registry == "" {
			t.Fatalf("ParseRef(%q) = %+v", s, r)
		}
		again, err := ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRef(%q) = %+v writes as %q, which parses as %+v, %v", s, r, r.String(), again, err)
		}
	})
}
