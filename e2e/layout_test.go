package e2e

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// Manifest media types the tests meet.
const (
	mtOCIIndex     = "application/vnd.oci.image.index.v1+json"
	mtOCIManifest  = "application/vnd.oci.image.manifest.v1+json"
	mtDockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerSchema = "application/vnd.docker.distribution.manifest.v2+json"
)

// descriptor is the subset of an OCI descriptor the tests read.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform,omitempty"`
}

// manifestDoc is the subset of an image manifest or index the tests read.
type manifestDoc struct {
	MediaType string       `json:"mediaType"`
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
}

func (d manifestDoc) isIndex(mediaType string) bool {
	switch mediaType {
	case mtOCIIndex, mtDockerList:
		return true
	case mtOCIManifest, mtDockerSchema:
		return false
	}
	return d.MediaType == mtOCIIndex || d.MediaType == mtDockerList || len(d.Manifests) > 0
}

// layoutContents is what an OCI image layout directory holds.
type layoutContents struct {
	// Top are the descriptors in index.json.
	Top []descriptor
	// Manifests are the digests of every manifest and index reachable from
	// index.json.
	Manifests []string
	// Layers are the digests of every layer reachable from index.json.
	Layers []string
}

// readLayout checks that every blob in the OCI layout at dir hashes to its
// file name and that every descriptor reachable from index.json names a
// blob of the right size, and returns what it found.
func readLayout(tb testing.TB, dir string) layoutContents {
	tb.Helper()
	if err := verifyBlobDir(filepath.Join(dir, "blobs")); err != nil {
		tb.Fatalf("OCI layout %s: %v", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		tb.Fatalf("OCI layout: %v", err)
	}
	var top manifestDoc
	if err := json.Unmarshal(b, &top); err != nil {
		tb.Fatalf("OCI layout index.json: %v", err)
	}
	var lc layoutContents
	lc.Top = top.Manifests
	seen := map[string]bool{}
	var walk func(d descriptor)
	walk = func(d descriptor) {
		if seen[d.Digest] {
			return
		}
		seen[d.Digest] = true
		raw := readLayoutBlob(tb, dir, d)
		var doc manifestDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			tb.Fatalf("manifest %s: %v", d.Digest, err)
		}
		lc.Manifests = append(lc.Manifests, d.Digest)
		if doc.isIndex(d.MediaType) {
			for _, child := range doc.Manifests {
				walk(child)
			}
			return
		}
		readLayoutBlob(tb, dir, doc.Config)
		for _, l := range doc.Layers {
			statLayoutBlob(tb, dir, l)
			lc.Layers = append(lc.Layers, l.Digest)
		}
	}
	for _, d := range top.Manifests {
		walk(d)
	}
	return lc
}

// blobPath is where an OCI layout keeps the blob with digest d.
func blobPath(dir, d string) (string, error) {
	alg, enc, ok := strings.Cut(d, ":")
	if !ok || alg == "" || enc == "" || strings.ContainsAny(d, `/\`) {
		return "", fmt.Errorf("malformed digest %q", d)
	}
	return filepath.Join(dir, "blobs", alg, enc), nil
}

func statLayoutBlob(tb testing.TB, dir string, d descriptor) {
	tb.Helper()
	p, err := blobPath(dir, d.Digest)
	if err != nil {
		tb.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		tb.Fatalf("blob %s referenced but missing: %v", d.Digest, err)
	}
	if fi.Size() != d.Size {
		tb.Fatalf("blob %s is %d bytes, descriptor says %d", d.Digest, fi.Size(), d.Size)
	}
}

func readLayoutBlob(tb testing.TB, dir string, d descriptor) []byte {
	tb.Helper()
	statLayoutBlob(tb, dir, d)
	p, _ := blobPath(dir, d.Digest)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// verifyBlobDir checks that each file blobs/ALG/HEX hashes to ALG:HEX.
func verifyBlobDir(blobs string) error {
	n := 0
	err := filepath.WalkDir(blobs, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, err := filepath.Rel(blobs, p)
		if err != nil {
			return err
		}
		alg, enc, ok := strings.Cut(filepath.ToSlash(rel), "/")
		if !ok || strings.Contains(enc, "/") {
			return fmt.Errorf("unexpected file %s in blobs", rel)
		}
		got, err := fileDigest(p, alg)
		if err != nil {
			return err
		}
		if want := alg + ":" + enc; got != want {
			return fmt.Errorf("blob %s hashes to %s", want, got)
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no blobs")
	}
	return nil
}

// fileDigest returns "ALG:HEX" of the file at p.
func fileDigest(p, alg string) (string, error) {
	var h hash.Hash
	switch alg {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return "", fmt.Errorf("unsupported digest algorithm %q", alg)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return alg + ":" + hex.EncodeToString(h.Sum(nil)), nil
}

// tarballContents reads a `docker save` style tarball (as crane pull
// writes): it hashes each config and layer file named by manifest.json.
type tarballContents struct {
	Configs []string // digests of the config files
	Layers  []string // digests of the layer files
}

func readTarball(tb testing.TB, p string) tarballContents {
	tb.Helper()
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	digests := map[string]string{} // file name -> digest
	var manifest []struct {
		Config string
		Layers []string
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("tarball %s: %v", p, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(hdr.Name)
		if name == "manifest.json" {
			if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
				tb.Fatalf("tarball manifest.json: %v", err)
			}
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil {
			tb.Fatalf("tarball %s: %v", p, err)
		}
		digests[name] = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	if len(manifest) == 0 {
		tb.Fatalf("tarball %s has no manifest.json entries", p)
	}
	var tc tarballContents
	lookup := func(name string) string {
		d, ok := digests[path.Clean(name)]
		if !ok {
			tb.Fatalf("tarball %s: manifest.json names missing file %s", p, name)
		}
		return d
	}
	for _, m := range manifest {
		tc.Configs = append(tc.Configs, lookup(m.Config))
		for _, l := range m.Layers {
			tc.Layers = append(tc.Layers, lookup(l))
		}
	}
	return tc
}

// layerDigests returns the layer digests of the images, in order.
func layerDigests(imgs ...fakehub.Image) []string {
	var ds []string
	for _, img := range imgs {
		for _, l := range img.Layers {
			ds = append(ds, l.Digest)
		}
	}
	return ds
}

// sameSet reports whether a and b hold the same strings, ignoring order
// and duplicates.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
