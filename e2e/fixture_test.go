package e2e

import (
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// images is the content a fake hub serves to the client tests.
type images struct {
	hub *fakehub.Hub

	// Schema2 is a Docker schema2 image, library/alpine:3.20.
	Schema2 fakehub.Image
	// OCI is an OCI image, library/busybox:1.36.
	OCI fakehub.Image
	// Index is an OCI index, library/multi:latest, of Amd64 and Arm64.
	Index, Amd64, Arm64 fakehub.Image
	// List is a Docker manifest list, library/dlist:latest, of ListAmd64
	// and ListArm64.
	List, ListAmd64, ListArm64 fakehub.Image
}

// newImages starts a fake hub holding the test images; it is closed when
// tb's test ends.
func newImages(tb testing.TB) *images {
	tb.Helper()
	hub := fakehub.New()
	tb.Cleanup(hub.Close)
	im := &images{hub: hub}
	im.Schema2 = hub.AddImage("library/alpine", "3.20",
		fakehub.Layer(map[string]string{"etc/alpine-release": "3.20.0\n"}),
		fakehub.Layer(map[string]string{"bin/sh": "#!/bin/true\n", "etc/motd": "welcome\n"}),
	)
	im.OCI = hub.AddOCIImage("library/busybox", "1.36",
		fakehub.Layer(map[string]string{"bin/busybox": "busybox 1.36\n"}),
	)
	im.Amd64 = hub.AddOCIImage("library/multi", "amd64",
		fakehub.Layer(map[string]string{"arch": "amd64\n"}),
		fakehub.Layer(map[string]string{"common": "shared file, amd64 copy\n"}),
	)
	im.Arm64 = hub.AddOCIImage("library/multi", "arm64",
		fakehub.Layer(map[string]string{"arch": "arm64\n"}),
	)
	im.Index = hub.AddIndex("library/multi", "latest", fakehub.MediaTypeOCIIndex, map[string]fakehub.Image{
		"linux/amd64": im.Amd64,
		"linux/arm64": im.Arm64,
	})
	im.ListAmd64 = hub.AddImage("library/dlist", "amd64",
		fakehub.Layer(map[string]string{"arch": "docker amd64\n"}),
	)
	im.ListArm64 = hub.AddPlatformImage("library/dlist", "arm64", "linux/arm64",
		fakehub.Layer(map[string]string{"arch": "docker arm64\n"}),
	)
	im.List = hub.AddIndex("library/dlist", "latest", fakehub.MediaTypeDockerList, map[string]fakehub.Image{
		"linux/amd64": im.ListAmd64,
		"linux/arm64": im.ListArm64,
	})
	return im
}

// imageCase is one way of naming one of the test images, shared by the
// client tests (crane, skopeo) so each kind of image is covered by every
// client from one table.
type imageCase struct {
	name string
	// ref is what the client asks the mirror for, without the mirror's
	// address: repo:tag or repo@digest.
	ref string
	// repo and tag are the parts of ref; tag is "" for a digest reference.
	repo, tag string
	// top is what ref names: an image, or an index of platform images.
	top fakehub.Image
	// platform is the image a client picks for linux/amd64: top itself
	// unless top is an index.
	platform fakehub.Image
	// all are the images of every platform: [top] unless top is an index.
	all []fakehub.Image
	// docker is true for Docker media types, which skopeo converts when it
	// writes an OCI layout (so the layout's digests are not upstream's).
	docker bool
}

// cases lists every way the client tests name the test images.
func (im *images) cases() []imageCase {
	one := func(name, repo, tag string, img fakehub.Image, docker bool) imageCase {
		ref := repo + ":" + tag
		if tag == "" {
			ref = repo + "@" + img.Digest
		}
		return imageCase{name: name, ref: ref, repo: repo, tag: tag, top: img, platform: img, all: []fakehub.Image{img}, docker: docker}
	}
	index := func(name, repo string, idx, amd64 fakehub.Image, children []fakehub.Image, docker bool) imageCase {
		return imageCase{name: name, ref: repo + ":latest", repo: repo, tag: "latest", top: idx, platform: amd64, all: children, docker: docker}
	}
	return []imageCase{
		one("schema2", "library/alpine", "3.20", im.Schema2, true),
		one("schema2 short name", "alpine", "3.20", im.Schema2, true),
		one("oci", "library/busybox", "1.36", im.OCI, false),
		one("oci by digest", "library/busybox", "", im.OCI, false),
		index("oci index", "library/multi", im.Index, im.Amd64, []fakehub.Image{im.Amd64, im.Arm64}, false),
		one("oci index child", "library/multi", "arm64", im.Arm64, false),
		index("docker list", "library/dlist", im.List, im.ListAmd64, []fakehub.Image{im.ListAmd64, im.ListArm64}, true),
	}
}

// isIndex reports whether the case names an index of platform images.
func (c imageCase) isIndex() bool { return len(c.all) > 1 }
