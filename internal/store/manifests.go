package store

import (
	"errors"
	"fmt"
	"io/fs"
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
// With a store behind the cache, m is then queued for the store (see
// records.go): the caller does not wait for it.
func (c *Cache) PutManifest(m Manifest) error {
	raw := manifestFile(m)
	if err := c.putManifestLocal(m, raw); err != nil {
		return err
	}
	if c.records != nil {
		c.records.add(manifestKey(m.Digest), record{manifest: raw})
	}
	return nil
}

// GetManifest reads a cached manifest; an error wrapping fs.ErrNotExist
// when there is none. The bytes are hashed again: manifests are small,
// and a corrupt file must never be served. One that does not match is
// removed, and the error wraps oci.ErrDigestMismatch. With a store behind
// the cache, a manifest missing here is read from the store, checked the
// same way, and kept here.
func (c *Cache) GetManifest(d digest.Digest) (Manifest, error) {
	raw, err := os.ReadFile(c.manifestPath(d))
	if errors.Is(err, fs.ErrNotExist) && c.remote != nil {
		return c.manifestFromStore(d, err)
	}
	if err != nil {
		return Manifest{}, err
	}
	m, ok := parseManifestFile(d, raw)
	if !ok {
		os.Remove(c.manifestPath(d))
		c.refs.drop(d)
		return Manifest{}, fmt.Errorf("cached manifest %s: %w", d, oci.ErrDigestMismatch)
	}
	return m, nil
}
