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
