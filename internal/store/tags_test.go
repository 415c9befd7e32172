package store

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hubmirror/hubmirror/internal/oci"
)

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
		c2 := &Cache{root: fuzzRoot}
		want := filepath.Join(fuzzRoot, "tags", filepath.FromSlash(c.rel))
		if got := c2.tagPath(c.registry, c.repo, c.tag); got != want {
			t.Errorf("tagPath(%q, %q, %q) = %s, want %s", c.registry, c.repo, c.tag, got, want)
		}
		checkTagRoundTrip(t, c.registry, c.repo, c.tag)
	}
}

// TestBlobAndManifestPathLayout pins where blobs and manifests live: a
// cache written by one version is read by the next.
func TestBlobAndManifestPathLayout(t *testing.T) {
	c := &Cache{root: fuzzRoot}
	hex := strings.Repeat("ab", 32)
	d := digest.Digest("sha256:" + hex)
	if got, want := c.blobPath(d), filepath.Join(fuzzRoot, "blobs", "sha256", "ab", hex); got != want {
		t.Errorf("blobPath = %s, want %s", got, want)
	}
	long := strings.Repeat("0f", 64)
	if got, want := c.manifestPath(digest.Digest("sha512:"+long)), filepath.Join(fuzzRoot, "manifests", "sha512", "0f", long); got != want {
		t.Errorf("manifestPath = %s, want %s", got, want)
	}
}

// checkTagRoundTrip records a tag in a fresh cache and checks that Images
// lists it as exactly that registry, repository and tag.
func checkTagRoundTrip(t *testing.T, registry, repo, tag string) {
	t.Helper()
	c := openCache(t, t.TempDir(), Options{})
	m := Manifest{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes([]byte(tag))}
	if err := c.RecordTag(registry, repo, tag, m); err != nil {
		t.Fatalf("record %s/%s:%s: %v", registry, repo, tag, err)
	}
	imgs, err := c.Images()
	if err != nil {
		t.Fatalf("Images: %v", err)
	}
	want := CachedImage{Registry: registry, Repo: repo, Tag: tag, Digest: string(m.Digest)}
	if len(imgs) != 1 || imgs[0] != want {
		t.Fatalf("recorded %s/%s:%s, Images lists %+v", registry, repo, tag, imgs)
	}
}

// TestRecordTagPerMediaType: a tag keeps one entry per media type, the
// one recorded last.
func TestRecordTagPerMediaType(t *testing.T) {
	c := openCache(t, t.TempDir(), Options{})
	first := Manifest{MediaType: v1.MediaTypeImageIndex, Digest: digest.FromString("1")}
	docker := Manifest{MediaType: oci.MediaTypeDockerManifestList, Digest: digest.FromString("2")}
	again := Manifest{MediaType: v1.MediaTypeImageIndex, Digest: digest.FromString("3")}
	for _, m := range []Manifest{first, docker, again} {
		if err := c.RecordTag("docker.io", "library/a", "1", m); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := c.ReadTag("docker.io", "library/a", "1")
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]digest.Digest{}
	for _, e := range rec.Entries {
		byType[e.MediaType] = e.Digest
	}
	if len(rec.Entries) != 2 || byType[v1.MediaTypeImageIndex] != again.Digest || byType[oci.MediaTypeDockerManifestList] != docker.Digest {
		t.Errorf("entries: %+v", rec.Entries)
	}
}

// TestTagRecordNewest: the most recently seen entry first; entries seen
// at the same time keep their order.
func TestTagRecordNewest(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := TagRecord{Entries: []TagEntry{
		{MediaType: "a", Seen: t0}, {MediaType: "b", Seen: t0.Add(time.Hour)}, {MediaType: "c", Seen: t0}, {MediaType: "d", Seen: t0.Add(time.Hour)},
	}}
	var got []string
	for _, e := range rec.Newest() {
		got = append(got, e.MediaType)
	}
	if strings.Join(got, "") != "bdac" {
		t.Errorf("Newest order %v, want b d a c", got)
	}
	if rec.Entries[0].MediaType != "a" {
		t.Errorf("Newest reordered the record itself")
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
	c := &Cache{root: fuzzRoot}
	f.Fuzz(func(t *testing.T, registry, repo, tag string) {
		if !oci.ValidTag(tag) {
			return
		}
		encoded := strings.TrimSuffix(filepath.Base(c.tagPath("docker.io", "a", tag)), ".json")
		if got := untagName(encoded); got != tag {
			t.Fatalf("tag %q is stored as %q, which reads back as %q", tag, encoded, got)
		}
		if !registryHost(registry) || !oci.ValidName(repo) || len(encoded)+len(".json") > maxFileName {
			return
		}
		checkTagRoundTrip(t, registry, repo, tag)
	})
}
