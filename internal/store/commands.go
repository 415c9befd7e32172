package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// The disk side of the `hubmirror cache` commands: what ls, verify, prune
// and clear do to an open cache, whether the command opened it itself or
// the mirror that holds it does the work for the command.

// CachedImage is a tag the cache can serve, with the bytes it holds for it.
type CachedImage struct {
	Registry, Repo, Tag, Digest string
	Size                        int64 // manifest and the blobs of it that are cached
	Complete                    bool  // every blob it names is cached
}

// Images lists the cached tags, sorted by registry, repository and tag.
func (c *Cache) Images() ([]CachedImage, error) {
	var out []CachedImage
	base := filepath.Join(c.root, "tags")
	err := filepath.WalkDir(base, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".json") {
			return nil
		}
		rel, _ := filepath.Rel(base, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) < 3 {
			return nil
		}
		var rec TagRecord
		if raw, err := os.ReadFile(path); err != nil || json.Unmarshal(raw, &rec) != nil || len(rec.Entries) == 0 {
			return nil
		}
		newest := rec.Newest()[0]
		if oci.CheckDigest(newest.Digest) != nil {
			return nil
		}
		size, complete := c.imageSize(newest.Digest, map[digest.Digest]bool{})
		out = append(out, CachedImage{
			Registry: strings.ReplaceAll(parts[0], "_", ":"),
			Repo:     strings.Join(parts[1:len(parts)-1], "/"),
			Tag:      untagName(strings.TrimSuffix(parts[len(parts)-1], ".json")),
			Digest:   newest.Digest.String(), Size: size, Complete: complete,
		})
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Registry+"/"+a.Repo+":"+a.Tag < b.Registry+"/"+b.Repo+":"+b.Tag
	})
	return out, err
}

// imageSize adds up a manifest and what it names that is cached.
func (c *Cache) imageSize(d digest.Digest, seen map[digest.Digest]bool) (int64, bool) {
	if seen[d] {
		return 0, true
	}
	seen[d] = true
	cm, err := c.GetManifest(d)
	if err != nil {
		return 0, false
	}
	size, complete := int64(len(cm.Data)), true
	refs, _ := oci.ManifestRefs(cm.Data) // not JSON: names nothing
	for _, bd := range oci.Digests(refs.Blobs) {
		if info, err := os.Stat(c.blobPath(bd)); err == nil {
			size += info.Size()
		} else {
			complete = false
		}
	}
	for _, cd := range oci.Digests(refs.Children) {
		n, ok := c.imageSize(cd, seen)
		size += n
		complete = complete && ok
	}
	return size, complete
}

// Verify hashes every cached blob again, removes those that do not match
// their digest (and the manifests that name them) and returns their
// digests. progress, when not nil, is called after each blob.
func (c *Cache) Verify(progress func(done, total int)) ([]digest.Digest, error) {
	all := c.index.digests()
	var bad []digest.Digest
	for i, d := range all {
		ok, err := verifyFile(c.blobPath(d), d)
		if err != nil {
			return nil, err
		}
		if !ok {
			bad = append(bad, d)
			c.index.forget(d)
		}
		if progress != nil {
			progress(i+1, len(all))
		}
	}
	_, err := c.removeBlobs(bad)
	c.stats.CacheBytes.Store(c.size())
	return bad, err
}

// verifyFile reports whether the file at path matches d; a file gone
// meanwhile does.
func verifyFile(path string, d digest.Digest) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil // gone meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return v.Verified(), nil
}

// Prune evicts the least recently used blobs, with the manifests that name
// them, until at most to bytes of blobs are left. It returns what it freed.
func (c *Cache) Prune(to int64) (blobs int, freed int64, err error) {
	gone := c.index.over(to)
	freed, err = c.removeBlobs(gone)
	c.stats.CacheBytes.Store(c.size())
	return len(gone), freed, err
}

// Clear removes every blob, manifest and tag record. Downloads that run
// meanwhile finish into the empty cache.
func (c *Cache) Clear() error {
	defer func() { c.stats.CacheBytes.Store(c.size()) }()
	for _, d := range []string{"blobs", "manifests", "tags"} {
		p := filepath.Join(c.root, d)
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	c.index.reset()
	c.refs.reset()
	return nil
}
