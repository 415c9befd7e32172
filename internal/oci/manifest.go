package oci

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's schema2 media types of manifests, which Docker Hub and most
// registries serve next to the OCI ones (image-spec's
// v1.MediaTypeImageManifest and v1.MediaTypeImageIndex), with the same
// fields.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// Refs is what a manifest refers to.
type Refs struct {
	// Blobs are an image manifest's config, when it names one, and then
	// its layers.
	Blobs []v1.Descriptor
	// Children are the manifests an image index or a manifest list
	// lists, each with its platform when it has one.
	Children []v1.Descriptor
}

// ManifestRefs reads what the manifest data refers to. OCI image
// manifests and indexes and Docker's schema2 manifests and manifest lists
// all keep their references in the same fields, so one read serves them
// all: image-spec's Manifest, with an Index's manifests. Data that is not
// such JSON is an error.
func ManifestRefs(data []byte) (Refs, error) {
	var doc struct {
		v1.Manifest
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return Refs{}, err
	}
	var r Refs
	if doc.Config.Digest != "" {
		r.Blobs = append(r.Blobs, doc.Config)
	}
	r.Blobs = append(r.Blobs, doc.Layers...)
	r.Children = doc.Manifests
	return r, nil
}

// Digests returns the digests of the descriptors that CheckDigest
// accepts, in order; a reference that is no valid digest names nothing.
func Digests(lists ...[]v1.Descriptor) []digest.Digest {
	var out []digest.Digest
	for _, ds := range lists {
		for _, d := range ds {
			if CheckDigest(d.Digest) == nil {
				out = append(out, d.Digest)
			}
		}
	}
	return out
}
