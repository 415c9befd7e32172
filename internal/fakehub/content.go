package fakehub

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// Media types of the manifests, configs and layers the hub builds.
const (
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeOCIConfig      = "application/vnd.oci.image.config.v1+json"
	MediaTypeOCILayer       = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// Blob is a blob stored in the hub.
type Blob struct {
	// Digest is "sha256:<hex>" of the bytes.
	Digest string
	// Size is the length of the bytes.
	Size int64
	// Data is the bytes, nil for a blob served from a file. Do not modify.
	Data []byte
}

// Image is a manifest stored in the hub: an image manifest or an index.
type Image struct {
	// Repo is the full repository name, like "library/alpine".
	Repo string
	// Tag is the tag the image was added under, "" if none.
	Tag string
	// MediaType is the manifest's media type.
	MediaType string
	// Manifest is the manifest bytes, exactly as served.
	Manifest []byte
	// Digest is "sha256:<hex>" of Manifest.
	Digest string
	// Config is the image config blob; zero for an index.
	Config Blob
	// Layers are the layer blobs in manifest order; nil for an index.
	Layers []Blob
}

// content is what the hub serves. Its fields are guarded by Hub.mu.
type content struct {
	blobs       map[string]*storedBlob
	globalBlobs map[string]bool // digests any existing repository may fetch
	manifests   map[string]*storedManifest
	repos       map[string]*repository
}

type storedBlob struct {
	data []byte
	path string // file-backed when data is nil
	size int64
}

type storedManifest struct {
	mediaType string
	data      []byte
	blobs     []string // config and layers
	children  []string // manifests an index lists
	amd64     string   // the linux/amd64 child of an index, "" if none
}

type repository struct {
	blobs     map[string]bool
	manifests map[string]bool
	tags      map[string]string // tag -> manifest digest
	owner     string            // non-empty for a private repository
}

func newContent() content {
	return content{
		blobs:       map[string]*storedBlob{},
		globalBlobs: map[string]bool{},
		manifests:   map[string]*storedManifest{},
		repos:       map[string]*repository{},
	}
}

// repo returns the named repository, creating it. The caller holds Hub.mu.
func (c *content) repo(name string) *repository {
	r := c.repos[name]
	if r == nil {
		r = &repository{blobs: map[string]bool{}, manifests: map[string]bool{}, tags: map[string]string{}}
		c.repos[name] = r
	}
	return r
}

// link makes a manifest, its blobs and its children reachable in r. The
// caller holds Hub.mu.
func (c *content) link(r *repository, digest string) {
	m := c.manifests[digest]
	r.manifests[digest] = true
	for _, b := range m.blobs {
		r.blobs[b] = true
	}
	for _, child := range m.children {
		c.link(r, child)
	}
}

// digestOf returns the sha256 digest of b.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// layerTime is the modification time of every file in a Layer.
var layerTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Layer returns a gzip-compressed tar holding files (name to contents). The
// result is deterministic: names are sorted, times fixed, modes 0644.
func Layer(files map[string]string) []byte {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range names {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name,
			Mode:     0o644,
			Size:     int64(len(files[name])),
			ModTime:  layerTime,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			panic(fmt.Sprintf("fakehub: layer file %q: %v", name, err))
		}
		io.WriteString(tw, files[name])
	}
	if err := tw.Close(); err != nil {
		panic(fmt.Sprintf("fakehub: close layer: %v", err))
	}
	gz.Close()
	return buf.Bytes()
}

// AddBlob stores data and returns its Blob. Any existing repository may fetch
// it, like a blob mounted everywhere.
func (h *Hub) AddBlob(data []byte) Blob {
	b := h.storeBlob(data)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.globalBlobs[b.Digest] = true
	return b
}

// AddBlobFile stores a blob served from the file at path, which must not
// change while the hub runs. Its digest is computed by streaming the file.
// Any existing repository may fetch it.
func (h *Hub) AddBlobFile(path string) (Blob, error) {
	f, err := os.Open(path)
	if err != nil {
		return Blob{}, fmt.Errorf("add blob file: %w", err)
	}
	defer f.Close()
	sum := sha256.New()
	size, err := io.Copy(sum, f)
	if err != nil {
		return Blob{}, fmt.Errorf("add blob file %s: %w", path, err)
	}
	b := Blob{Digest: "sha256:" + hex.EncodeToString(sum.Sum(nil)), Size: size}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blobs[b.Digest] == nil {
		h.blobs[b.Digest] = &storedBlob{path: path, size: size}
	}
	h.globalBlobs[b.Digest] = true
	return b, nil
}

// storeBlob stores a copy of data without making it reachable anywhere.
func (h *Hub) storeBlob(data []byte) Blob {
	own := bytes.Clone(data)
	if own == nil {
		own = []byte{}
	}
	b := Blob{Digest: digestOf(own), Size: int64(len(own)), Data: own}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.blobs[b.Digest]; s != nil && s.data != nil {
		b.Data = s.data
	} else if s == nil {
		h.blobs[b.Digest] = &storedBlob{data: own, size: b.Size}
	}
	return b
}

// SetTag points tag in repo at the manifest with digest, creating the tag
// (and the repository) if needed. The manifest may have been added to any
// repository; it becomes reachable in repo. It panics on an unknown digest.
func (h *Hub) SetTag(repo, tag, digest string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.manifests[digest] == nil {
		panic("fakehub: SetTag: unknown manifest " + digest)
	}
	r := h.repo(repo)
	h.link(r, digest)
	r.tags[tag] = digest
}

// DeleteTag removes tag from repo. The manifest stays reachable by digest.
func (h *Hub) DeleteTag(repo, tag string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.repos[repo]; r != nil {
		delete(r.tags, tag)
	}
}
