package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
)

// Cache is an open cache directory for the `hubmirror cache` commands.
// Opening it takes the directory's lock, so a mirror running on it must be
// stopped first.
type Cache struct{ c *diskCache }

// OpenCache opens the cache directory dir.
func OpenCache(dir string) (*Cache, error) {
	c, err := openCache(dir, 0)
	if err != nil {
		return nil, err
	}
	return &Cache{c: c}, nil
}

// Close releases the directory's lock.
func (c *Cache) Close() { c.c.close() }

// Size returns the bytes of blobs in the cache.
func (c *Cache) Size() int64 { return c.c.index.size() }

// CachedImage is a tag the cache can serve, with the bytes it holds for it.
type CachedImage struct {
	Registry, Repo, Tag, Digest string
	Size                        int64 // manifest and the blobs of it that are cached
	Complete                    bool  // every blob it names is cached
}

// Images lists the cached tags, sorted by registry, repository and tag.
func (c *Cache) Images() ([]CachedImage, error) {
	var out []CachedImage
	base := filepath.Join(c.c.root, "tags")
	err := filepath.WalkDir(base, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".json") {
			return nil
		}
		rel, _ := filepath.Rel(base, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) < 3 {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		var rec tagRecord
		if json.Unmarshal(raw, &rec) != nil || len(rec.Entries) == 0 {
			return nil
		}
		newest := pickEntries(rec.Entries, "")[0]
		d, err := parseDigest(newest.Digest)
		if err != nil {
			return nil
		}
		size, complete := c.imageSize(d, map[digest]bool{})
		out = append(out, CachedImage{
			Registry: strings.ReplaceAll(parts[0], "_", ":"),
			Repo:     strings.Join(parts[1:len(parts)-1], "/"),
			Tag:      untagName(strings.TrimSuffix(parts[len(parts)-1], ".json")),
			Digest:   newest.Digest, Size: size, Complete: complete,
		})
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Registry+"/"+a.Repo+":"+a.Tag < b.Registry+"/"+b.Repo+":"+b.Tag
	})
	return out, err
}

// untagName reverses tagPath's "^x" for an uppercase letter.
func untagName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '^' && i+1 < len(s) {
			i++
			b.WriteByte(s[i] - 'a' + 'A')
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// imageSize adds up a manifest and what it names that is cached.
func (c *Cache) imageSize(d digest, seen map[digest]bool) (int64, bool) {
	if seen[d] {
		return 0, true
	}
	seen[d] = true
	cm, err := c.c.getManifest(d)
	if err != nil {
		return 0, false
	}
	size, complete := int64(len(cm.Data)), true
	blobs, children := manifestRefs(cm.Data)
	for _, ref := range blobs {
		bd, err := parseDigest(ref)
		if err != nil {
			continue
		}
		if info, err := os.Stat(c.c.blobPath(bd)); err == nil {
			size += info.Size()
		} else {
			complete = false
		}
	}
	for _, ref := range children {
		if cd, err := parseDigest(ref); err == nil {
			n, ok := c.imageSize(cd, seen)
			size += n
			complete = complete && ok
		}
	}
	return size, complete
}

// Verify hashes every cached blob again, removes those that do not match
// their digest (and the manifests that name them) and returns their
// digests. progress, when not nil, is called after each blob.
func (c *Cache) Verify(progress func(done, total int)) ([]string, error) {
	ix := c.c.index
	ix.mu.Lock()
	all := make([]digest, 0, len(ix.blobs))
	for d := range ix.blobs {
		all = append(all, d)
	}
	ix.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	var bad []digest
	for i, d := range all {
		ok, err := verifyFile(c.c.blobPath(d), d)
		if err != nil {
			return nil, err
		}
		if !ok {
			bad = append(bad, d)
			ix.forget(d)
		}
		if progress != nil {
			progress(i+1, len(all))
		}
	}
	_, err := c.c.removeBlobs(bad)
	out := make([]string, len(bad))
	for i, d := range bad {
		out[i] = string(d)
	}
	return out, err
}

func verifyFile(path string, d digest) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil // gone meanwhile
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := d.newHash()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return d.matches(h.Sum(nil)), nil
}

// Prune evicts the least recently used blobs, with the manifests that name
// them, until at most to bytes of blobs are left. It returns what it freed.
func (c *Cache) Prune(to int64) (blobs int, freed int64, err error) {
	gone := c.c.index.over(to)
	freed, err = c.c.removeBlobs(gone)
	return len(gone), freed, err
}

// Clear removes every blob, manifest and tag record.
func (c *Cache) Clear() error {
	for _, d := range []string{"blobs", "manifests", "tags"} {
		p := filepath.Join(c.c.root, d)
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	c.c.index.reset()
	c.c.refs.reset()
	return nil
}

// CacheUsage is how full the cache is.
type CacheUsage struct {
	Bytes, Limit int64 // blob bytes kept and the most that may be kept (0: none set)
	Blobs        int
}

// CacheUsage returns how full the running mirror's cache is.
func (m *Mirror) CacheUsage() CacheUsage {
	m.mu.Lock()
	c, limit := m.cache, m.cfg.CacheMax
	m.mu.Unlock()
	u := CacheUsage{Limit: limit}
	if c != nil {
		c.index.mu.Lock()
		u.Bytes, u.Blobs = c.index.total, len(c.index.blobs)
		c.index.mu.Unlock()
	}
	return u
}

// errNotRunning is returned by cache operations of a stopped mirror.
var errNotRunning = errors.New("the mirror is not running: start it first")

// VerifyCache hashes every cached blob of the running mirror again, as
// Cache.Verify does, and returns the digests of the corrupt ones, removed.
func (m *Mirror) VerifyCache(progress func(done, total int)) ([]string, error) {
	m.mu.Lock()
	c := m.cache
	m.mu.Unlock()
	if c == nil {
		return nil, errNotRunning
	}
	bad, err := (&Cache{c: c}).Verify(progress)
	m.stats.cacheBytes.Store(c.size())
	return bad, err
}

// ClearCache empties the running mirror's cache. Downloads in progress
// finish into the empty cache.
func (m *Mirror) ClearCache() error {
	m.mu.Lock()
	c := m.cache
	m.mu.Unlock()
	if c == nil {
		return errNotRunning
	}
	err := (&Cache{c: c}).Clear()
	m.stats.cacheBytes.Store(c.size())
	m.changed()
	return err
}

// Prefetch pulls ref through the running mirror into its cache, as
// `hubmirror prefetch` does; progress gets blob bytes done and total.
func (m *Mirror) Prefetch(ctx context.Context, ref string, progress func(done, total int64)) error {
	r, err := ParseRef(ref)
	if err != nil {
		return err
	}
	m.mu.Lock()
	addr, token := m.addr, m.token
	m.mu.Unlock()
	if addr == "" {
		return errNotRunning
	}
	_, err = Prefetch(ctx, newHTTPClient(nil), "http://"+clientsetup.ClientHost(addr), r, nil, "Bearer "+token, progress)
	return err
}
