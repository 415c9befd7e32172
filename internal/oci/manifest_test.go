package oci

import (
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestManifestRefs: the config and layers of an image manifest, and the
// platform manifests of an index, in order, whichever of the four media
// types; a manifest without config names only its layers, and data that
// is not JSON names nothing.
func TestManifestRefs(t *testing.T) {
	cfg, l1, l2 := digest.FromString("config"), digest.FromString("layer 1"), digest.FromString("layer 2")
	amd, arm := digest.FromString("amd64"), digest.FromString("arm64")
	manifest := func(mediaType string) string {
		return `{"schemaVersion":2,"mediaType":"` + mediaType + `","config":{"mediaType":"c","digest":"` + cfg.String() + `","size":10},` +
			`"layers":[{"digest":"` + l1.String() + `","size":100},{"digest":"` + l2.String() + `","size":200}]}`
	}
	index := func(mediaType string) string {
		return `{"schemaVersion":2,"mediaType":"` + mediaType + `","manifests":[` +
			`{"digest":"` + amd.String() + `","size":1,"platform":{"os":"linux","architecture":"amd64"}},` +
			`{"digest":"` + arm.String() + `","size":2,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`
	}
	for _, mt := range []string{v1.MediaTypeImageManifest, MediaTypeDockerManifest} {
		r, err := ManifestRefs([]byte(manifest(mt)))
		if err != nil {
			t.Fatal(err)
		}
		if got := Digests(r.Blobs); !slices.Equal(got, []digest.Digest{cfg, l1, l2}) || len(r.Children) != 0 {
			t.Errorf("%s: blobs %v, children %v", mt, got, r.Children)
		}
		if r.Blobs[0].Size != 10 || r.Blobs[2].Size != 200 {
			t.Errorf("%s: sizes %d, %d", mt, r.Blobs[0].Size, r.Blobs[2].Size)
		}
	}
	for _, mt := range []string{v1.MediaTypeImageIndex, MediaTypeDockerManifestList} {
		r, err := ManifestRefs([]byte(index(mt)))
		if err != nil {
			t.Fatal(err)
		}
		if got := Digests(r.Children); !slices.Equal(got, []digest.Digest{amd, arm}) || len(r.Blobs) != 0 {
			t.Errorf("%s: children %v, blobs %v", mt, got, r.Blobs)
		}
		if p := r.Children[1].Platform; p == nil || p.OS != "linux" || p.Architecture != "arm64" || p.Variant != "v8" {
			t.Errorf("%s: platform %+v", mt, p)
		}
	}
	r, err := ManifestRefs([]byte(`{"layers":[{"digest":"` + l1.String() + `"}]}`))
	if err != nil || !slices.Equal(Digests(r.Blobs), []digest.Digest{l1}) {
		t.Errorf("no config: %v, %v", r.Blobs, err)
	}
	for _, bad := range []string{"", "not json", "[1]", `{"layers":"x"}`} {
		if r, err := ManifestRefs([]byte(bad)); err == nil || len(r.Blobs)+len(r.Children) != 0 {
			t.Errorf("%q: %+v, %v", bad, r, err)
		}
	}
}

// TestDigestsSkipsInvalid: a reference that is no valid digest (empty,
// another algorithm, a path) is left out, and the others keep their order.
func TestDigestsSkipsInvalid(t *testing.T) {
	a, b := digest.FromString("a"), digest.FromString("b")
	ds := []v1.Descriptor{{Digest: ""}, {Digest: a}, {Digest: "sha384:" + digest.Digest(strings.Repeat("a", 96))},
		{Digest: "sha256:../../etc/passwd"}, {Digest: b}}
	if got := Digests(ds, []v1.Descriptor{{Digest: a}}); !slices.Equal(got, []digest.Digest{a, b, a}) {
		t.Errorf("Digests = %v", got)
	}
}
