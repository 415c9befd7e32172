package mirror

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// eventually polls cond until it holds or 20 s pass; the pinned-image
// loop runs in the background.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A pinned image is fetched without anyone pulling it, is never evicted,
// and is fetched again when its tag moves.
func TestPinnedImages(t *testing.T) {
	hub := newHub(t)
	pinned := hub.AddImage("library/pinned", "1", pattern(150_000))
	tm := startMirrorCfg(t, hub, func(c *Config) {
		c.CacheMax = 300_000
		c.Pinned = []string{"pinned:1"}
		c.PinRefresh = 100 * time.Millisecond // the periodic refresh notices the moved tag
	})
	eventually(t, "the pinned image in the cache", func() bool { return cached(tm, pinned.Layers[0].Digest) })
	tm.blobs.Wait()

	for i, name := range []string{"x", "y", "z"} { // each pushes past the limit
		img := hub.AddImage("library/"+name, "1", pattern(120_000+i))
		tm.pullSettled(t, name, img)
	}
	if !cached(tm, pinned.Layers[0].Digest) {
		t.Fatalf("a pinned layer was evicted")
	}

	moved := hub.AddImage("library/pinned", "1", pattern(90_000))
	eventually(t, "the moved tag fetched", func() bool { return cached(tm, moved.Layers[0].Digest) })
	hub.SetDown(true)
	r := tm.get(t, "/v2/pinned/manifests/1", "Accept", fullAccept)
	if r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != moved.Digest {
		t.Errorf("offline, the pinned tag: %d %s, want %s", r.status, r.header.Get("Docker-Content-Digest"), moved.Digest)
	}
}

// Pins also work when self_auth is on: the mirror fetches them in-process,
// and the listener still refuses a client without a token.
func TestPinnedImagesWithSelfAuth(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/pinned", "1", pattern(10_000))
	tm := startMirrorCfg(t, hub, func(c *Config) {
		c.Access.SelfAuth = true
		c.Pinned = []string{"docker.io/library/pinned:1"}
	})
	eventually(t, "the pinned image in the cache", func() bool { return cached(tm, img.Layers[0].Digest) })
	if r := tm.get(t, "/v2/pinned/manifests/1"); r.status != http.StatusUnauthorized {
		t.Errorf("a client without a token: %d", r.status)
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alpine", "alpine:latest"},
		{"alpine:3.20", "alpine:3.20"},
		{"owner/app:V1", "owner/app:V1"},
		{"ghcr.io/owner/app:1", "ghcr.io/owner/app:1"},
		{"localhost:5001/app", "localhost:5001/app:latest"},
		{"localhost/app:1", "localhost/app:1"},
		{"127.0.0.1:5000/x/y:z", "127.0.0.1:5000/x/y:z"},
		{"nginx@sha256:" + strings.Repeat("a", 64), "nginx@sha256:" + strings.Repeat("a", 64)},
		{"nginx:1@sha256:" + strings.Repeat("a", 64), "nginx:1@sha256:" + strings.Repeat("a", 64)},
		{"nginx@sha512:" + strings.Repeat("b", 128), "nginx@sha512:" + strings.Repeat("b", 128)},
	} {
		r, err := ParseRef(tc.in)
		if err != nil || r.String() != tc.want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", tc.in, r, err, tc.want)
		}
	}
	for _, bad := range []string{"Alpine", "alpine:-x", "alpine@sha256:zz", "", "a//b", "Not A Ref",
		"Owner/app", // an uppercase namespace, which the library would take for a host
		"nginx@sha384:" + strings.Repeat("a", 96), // go-digest knows sha384; the mirror does not
		"alpine@sha256:" + strings.Repeat("A", 64), "alpine:latest:x", "/alpine", "alpine/", "a..b"} {
		if _, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) accepted", bad)
		}
	}
}

// TestParseRefNormalisesDockerHub: the ways of writing one Docker Hub
// image make one pin, as docker treats them as one image; other
// registries' names are kept as written.
func TestParseRefNormalisesDockerHub(t *testing.T) {
	for _, in := range []string{"alpine:3.20", "library/alpine:3.20", "docker.io/alpine:3.20",
		"docker.io/library/alpine:3.20", "index.docker.io/library/alpine:3.20", "index.docker.io/alpine:3.20"} {
		r, err := ParseRef(in)
		if err != nil || r.String() != "alpine:3.20" || r.Registry != dockerHub || r.Repo != "alpine" || r.path() != "alpine" {
			t.Errorf("ParseRef(%q) = %+v (%q), %v; want alpine:3.20 on docker.io", in, r, r, err)
		}
	}
	for in, want := range map[string]Ref{
		"docker.io/owner/app:1":          {Registry: dockerHub, Repo: "owner/app", Tag: "1"},
		"docker.io/library/library/x:1":  {Registry: dockerHub, Repo: "library/library/x", Tag: "1"},
		"ghcr.io/library/alpine:1":       {Registry: "ghcr.io", Repo: "library/alpine", Tag: "1"},
		"registry-1.docker.io/library/a": {Registry: "registry-1.docker.io", Repo: "library/a", Tag: "latest"},
	} {
		if r, err := ParseRef(in); err != nil || r != want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", in, r, err, want)
		}
	}
	// A Docker Hub repository whose first part looks like a registry
	// keeps docker.io when written back, or it would name that registry.
	r, err := ParseRef("docker.io/my.org/app:1")
	if err != nil || r.String() != "docker.io/my.org/app:1" || r.path() != "docker.io/my.org/app" {
		t.Errorf("docker.io/my.org/app:1: %q (path %q), %v", r, r.path(), err)
	}
}
