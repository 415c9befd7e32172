package fakehub

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// AddImage adds a Docker v2 schema2 image for linux/amd64 made of layers to
// repo and tags it (tag "" leaves it reachable by digest only). Each layer's
// diff_id is the sha256 of its gunzipped bytes, or of its raw bytes when it
// is not gzip.
func (h *Hub) AddImage(repo, tag string, layers ...[]byte) Image {
	return h.addImage(repo, tag, "linux/amd64", false, layers)
}

// AddOCIImage is AddImage with OCI media types for the manifest, config and
// layers.
func (h *Hub) AddOCIImage(repo, tag string, layers ...[]byte) Image {
	return h.addImage(repo, tag, "linux/amd64", true, layers)
}

// AddPlatformImage is AddImage for another platform ("os/arch" or
// "os/arch/variant", like "linux/arm64/v8"), written into the config, so
// images for different platforms differ even with the same layers.
func (h *Hub) AddPlatformImage(repo, tag, platform string, layers ...[]byte) Image {
	return h.addImage(repo, tag, platform, false, layers)
}

// AddImageWithBlobs adds a schema2 image for linux/amd64 over blobs already
// stored (by AddBlob or AddBlobFile; a blob with Data is stored if needed).
// The diff_ids are the blob digests. It panics on an unknown file-less blob.
func (h *Hub) AddImageWithBlobs(repo, tag string, layers ...Blob) Image {
	diffIDs := make([]string, len(layers))
	for i, l := range layers {
		h.mu.Lock()
		known := h.blobs[l.Digest] != nil
		h.mu.Unlock()
		if !known {
			if l.Data == nil {
				panic("fakehub: AddImageWithBlobs: unknown blob " + l.Digest)
			}
			if got := h.storeBlob(l.Data); got.Digest != l.Digest {
				panic("fakehub: AddImageWithBlobs: data does not match digest " + l.Digest)
			}
		}
		diffIDs[i] = l.Digest
	}
	return h.assemble(repo, tag, "linux/amd64", false, layers, diffIDs)
}

func (h *Hub) addImage(repo, tag, platform string, oci bool, layers [][]byte) Image {
	blobs := make([]Blob, len(layers))
	diffIDs := make([]string, len(layers))
	for i, l := range layers {
		blobs[i] = h.storeBlob(l)
		diffIDs[i] = diffID(l)
	}
	return h.assemble(repo, tag, platform, oci, blobs, diffIDs)
}

// diffID returns the digest of a layer's uncompressed bytes.
func diffID(layer []byte) string {
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		return digestOf(layer)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, zr); err != nil {
		return digestOf(layer)
	}
	return "sha256:" + hex.EncodeToString(sum.Sum(nil))
}

type platformJSON struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// parsePlatform splits "os/arch[/variant]".
func parsePlatform(s string) platformJSON {
	parts := strings.SplitN(s, "/", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		panic(fmt.Sprintf("fakehub: platform %q is not os/arch[/variant]", s))
	}
	p := platformJSON{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p
}

type descriptor struct {
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Digest    string        `json:"digest"`
	Platform  *platformJSON `json:"platform,omitempty"`
}

type imageConfig struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	Variant      string   `json:"variant,omitempty"`
	Config       struct{} `json:"config"`
	RootFS       rootFS   `json:"rootfs"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type imageManifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type imageIndex struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// marshal encodes v indented with three spaces, as Docker Hub's manifests
// are, so a mirror that re-encodes instead of passing bytes through changes
// the digest.
func marshal(v any) []byte {
	b, err := json.MarshalIndent(v, "", "   ")
	if err != nil {
		panic(fmt.Sprintf("fakehub: marshal: %v", err))
	}
	return b
}

// assemble writes the config and manifest for layers and adds the image.
func (h *Hub) assemble(repo, tag, platform string, oci bool, layers []Blob, diffIDs []string) Image {
	p := parsePlatform(platform)
	manifestType, configType, layerType := MediaTypeDockerManifest, MediaTypeDockerConfig, MediaTypeDockerLayer
	if oci {
		manifestType, configType, layerType = MediaTypeOCIManifest, MediaTypeOCIConfig, MediaTypeOCILayer
	}
	config := h.storeBlob(marshal(imageConfig{
		Architecture: p.Architecture, OS: p.OS, Variant: p.Variant,
		RootFS: rootFS{Type: "layers", DiffIDs: diffIDs},
	}))
	m := imageManifest{
		SchemaVersion: 2,
		MediaType:     manifestType,
		Config:        descriptor{MediaType: configType, Size: config.Size, Digest: config.Digest},
		Layers:        make([]descriptor, len(layers)),
	}
	refs := []string{config.Digest}
	for i, l := range layers {
		m.Layers[i] = descriptor{MediaType: layerType, Size: l.Size, Digest: l.Digest}
		refs = append(refs, l.Digest)
	}
	img := Image{Repo: repo, Tag: tag, MediaType: manifestType, Manifest: marshal(m), Config: config, Layers: layers}
	img.Digest = digestOf(img.Manifest)
	h.addManifest(repo, tag, &storedManifest{mediaType: manifestType, data: img.Manifest, blobs: refs}, img.Digest)
	return img
}

// addManifest stores m under digest, links it into repo and tags it.
func (h *Hub) addManifest(repo, tag string, m *storedManifest, digest string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.manifests[digest] == nil {
		h.manifests[digest] = m
	}
	r := h.repo(repo)
	h.link(r, digest)
	if tag != "" {
		r.tags[tag] = digest
	}
}

// AddIndex adds to repo a manifest list (MediaTypeDockerList, the default
// when mediaType is "") or an OCI index (MediaTypeOCIIndex) over platforms,
// keyed by "os/arch[/variant]" and listed in sorted key order. The platform
// images, wherever they were added, become reachable in repo too.
func (h *Hub) AddIndex(repo, tag string, mediaType string, platforms map[string]Image) Image {
	if mediaType == "" {
		mediaType = MediaTypeDockerList
	}
	if mediaType != MediaTypeDockerList && mediaType != MediaTypeOCIIndex {
		panic("fakehub: AddIndex: not an index media type: " + mediaType)
	}
	keys := make([]string, 0, len(platforms))
	for k := range platforms {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	idx := imageIndex{SchemaVersion: 2, MediaType: mediaType, Manifests: make([]descriptor, len(keys))}
	stored := &storedManifest{mediaType: mediaType}
	h.mu.Lock()
	for i, k := range keys {
		img := platforms[k]
		if h.manifests[img.Digest] == nil {
			h.mu.Unlock()
			panic("fakehub: AddIndex: unknown manifest " + img.Digest)
		}
		p := parsePlatform(k)
		idx.Manifests[i] = descriptor{MediaType: img.MediaType, Size: int64(len(img.Manifest)), Digest: img.Digest, Platform: &p}
		stored.children = append(stored.children, img.Digest)
		if p.OS == "linux" && p.Architecture == "amd64" && stored.amd64 == "" {
			stored.amd64 = img.Digest
		}
	}
	h.mu.Unlock()
	stored.data = marshal(idx)
	img := Image{Repo: repo, Tag: tag, MediaType: mediaType, Manifest: stored.data, Digest: digestOf(stored.data)}
	h.addManifest(repo, tag, stored, img.Digest)
	return img
}
