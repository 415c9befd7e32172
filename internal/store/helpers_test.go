package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// openCache opens dir as a cache for the test and closes it when the test
// ends.
func openCache(t testing.TB, dir string, o Options) *Cache {
	t.Helper()
	c, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// pattern returns n bytes that are not all alike, different for each seed.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251 + seed*31)
	}
	return b
}

// putBlob writes data into c as a verified blob, as a finished download
// does, and returns its digest.
func putBlob(t testing.TB, c *Cache, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	if err := c.writeFile(c.blobPath(d), data); err != nil {
		t.Fatal(err)
	}
	c.index.add(d, int64(len(data)))
	return d
}

// image is a manifest put into a cache, with the blobs it names.
type image struct {
	digest        digest.Digest
	data          []byte // the manifest's bytes
	config, layer digest.Digest
}

// putImage writes a config, a layer of the given bytes and the Docker
// schema2 manifest that names them into c.
func putImage(t testing.TB, c *Cache, layer []byte) image {
	t.Helper()
	cfgData := fmt.Appendf(nil, `{"architecture":"amd64","layer":%q}`, digest.FromBytes(layer))
	img := image{config: putBlob(t, c, cfgData), layer: putBlob(t, c, layer)}
	m := v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: oci.MediaTypeDockerManifest,
		Config: v1.Descriptor{MediaType: "application/vnd.docker.container.image.v1+json", Digest: img.config, Size: int64(len(cfgData))},
		Layers: []v1.Descriptor{{MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Digest: img.layer, Size: int64(len(layer))}},
	}
	img.data, img.digest = putManifest(t, c, oci.MediaTypeDockerManifest, m)
	return img
}

// putIndex writes a Docker manifest list of the images, one platform each.
func putIndex(t testing.TB, c *Cache, platforms map[string]image) image {
	t.Helper()
	idx := v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: oci.MediaTypeDockerManifestList}
	for _, arch := range []string{"amd64", "arm64", "s390x"} {
		if img, ok := platforms[arch]; ok {
			idx.Manifests = append(idx.Manifests, v1.Descriptor{
				MediaType: oci.MediaTypeDockerManifest, Digest: img.digest, Size: int64(len(img.data)),
				Platform: &v1.Platform{OS: "linux", Architecture: arch},
			})
		}
	}
	var img image
	img.data, img.digest = putManifest(t, c, oci.MediaTypeDockerManifestList, idx)
	return img
}

// putManifest writes v, as JSON, as a cached manifest of mediaType.
func putManifest(t testing.TB, c *Cache, mediaType string, v any) ([]byte, digest.Digest) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(data)
	if err := c.PutManifest(Manifest{MediaType: mediaType, Data: data, Digest: d}); err != nil {
		t.Fatal(err)
	}
	return data, d
}

// exists reports whether path names a file.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// manifestBytes is what a cached manifest's file holds.
func manifestBytes(mediaType string, data []byte) []byte {
	return bytes.Join([][]byte{[]byte(mediaType), data}, []byte{'\n'})
}
