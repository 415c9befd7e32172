package store

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// Fuzz targets for the cache's paths: whatever valid digest, registry,
// repository name and tag a request brings (package oci decides which
// are valid), the file it names stays inside the cache, in its own place.
// scripts/test.sh runs each for a few seconds on every CI run; a failing
// input lands in testdata/fuzz/FuzzXxx/ and is committed as a regression
// test, which plain `go test` then runs.

// fuzzRoot is a cache root for path checks; nothing is written there.
const fuzzRoot = "/cache/root"

// underRoot reports whether p is strictly inside root.
func underRoot(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// FuzzDigestPath: an accepted digest names its blob and manifest files
// inside the cache, by its hex.
func FuzzDigestPath(f *testing.F) {
	for _, s := range []string{
		"sha256:" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("0", 128), "sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("a", 63), "sha384:" + strings.Repeat("a", 96), "sha256:../../../../etc/passwd",
		"sha256", ":", "sha256:" + strings.Repeat("a", 62) + "/.", "md5:d41d8cd98f00b204e9800998ecf8427e",
	} {
		f.Add(s)
	}
	c := &Cache{root: fuzzRoot}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := oci.ParseDigest(s)
		if err != nil {
			return
		}
		for dir, p := range map[string]string{"blobs": c.blobPath(d), "manifests": c.manifestPath(d)} {
			if !underRoot(filepath.Join(fuzzRoot, dir), p) || filepath.Base(p) != d.Encoded() {
				t.Fatalf("%q: cache path %s", s, p)
			}
		}
	})
}

// FuzzTagPath checks that a tag record stays inside its registry's folder
// of the cache's tags/ for every valid repository name and tag, and that
// different tags or repositories never share a record.
func FuzzTagPath(f *testing.F) {
	f.Add("docker.io", "library/alpine", "latest", "library/alpine", "Latest")
	f.Add("localhost:5000", "a/b", "c", "a", "b")
	f.Add("ghcr.io", "a", "A", "a", "^a")
	f.Add("docker.io", "a/../b", "latest", "a..b", "latest")
	f.Add("quay.io", "a__b/c", "x", "/a", "x")
	c := &Cache{root: fuzzRoot}
	hostRE := regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)
	f.Fuzz(func(t *testing.T, registry, repo, tag, repo2, tag2 string) {
		if !hostRE.MatchString(registry) || strings.Contains(registry, "..") || !oci.ValidName(repo) || !oci.ValidTag(tag) {
			return
		}
		p := c.tagPath(registry, repo, tag)
		// Inside the registry's own folder, so no repository of one
		// registry reaches the tags of another.
		own := filepath.Join(fuzzRoot, "tags", strings.ReplaceAll(registry, ":", "_"))
		if !underRoot(own, p) || !strings.HasSuffix(p, ".json") {
			t.Fatalf("tagPath(%q, %q, %q) = %s", registry, repo, tag, p)
		}
		if oci.ValidName(repo2) && oci.ValidTag(tag2) && (repo2 != repo || tag2 != tag) && c.tagPath(registry, repo2, tag2) == p {
			t.Fatalf("%s:%s and %s:%s share the record %s", repo, tag, repo2, tag2, p)
		}
	})
}
