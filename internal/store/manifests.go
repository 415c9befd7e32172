package store

import (
	"bytes"
	"fmt"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// Manifest is a manifest's bytes with the media type upstream sent and
// its digest.
type Manifest struct {
	MediaType string
	Data      []byte
	Digest    digest.Digest
}

// PutManifest writes m, whose bytes the caller has verified against its
// digest, to its place and records what it names in the reverse index.
func (c *Cache) PutManifest(m Manifest) error {
	var b bytes.Buffer
	b.Grow(len(m.MediaType) + 1 + len(m.Data))
	b.WriteString(m.MediaType)
	b.WriteByte('\n')
	b.Write(m.Data)
	if err := c.writeFile(c.manifestPath(m.Digest), b.Bytes()); err != nil {
		return err
	}
	c.refs.put(m.Digest, int64(b.Len()), namedBy(m.Data))
	c.stats.CacheBytes.Add(int64(len(m.Data)))
	return nil
}

// GetManifest reads a cached manifest; an error wrapping fs.ErrNotExist
// when there is none. The bytes are hashed again: manifests are small,
// and a corrupt file must never be served. One that does not match is
// removed, and the error wraps oci.ErrDigestMismatch.
func (c *Cache) GetManifest(d digest.Digest) (Manifest, error) {
	raw, err := os.ReadFile(c.manifestPath(d))
	if err != nil {
		return Manifest{}, err
	}
	mt, data, ok := bytes.Cut(raw, []byte{'\n'})
	if !ok || d.Algorithm().FromBytes(data) != d {
		os.Remove(c.manifestPath(d))
		c.refs.drop(d)
		return Manifest{}, fmt.Errorf("cached manifest %s: %w", d, oci.ErrDigestMismatch)
	}
	return Manifest{MediaType: string(mt), Data: data, Digest: d}, nil
}
