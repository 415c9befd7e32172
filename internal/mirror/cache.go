package mirror

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// diskCache is the on-disk layout of the cache directory:
//
//	blobs/sha256/ab/abcd…       verified blob bytes, named by digest
//	manifests/sha256/ab/abcd…   "<media type>\n" then the verified manifest bytes
//	tags/<registry>/<repo>/<tag>.json   the manifests a tag last pointed to
//	tmp/                        downloads in progress; emptied at start
//
// Every file enters its place by rename from tmp/, so a reader sees a whole
// verified file or none. Names come only from validated digests, repository
// names and tags, which cannot contain "..".
type diskCache struct {
	root  string
	lock  *dirLock   // the directory's lock; nil once closed
	tagMu sync.Mutex // serializes read-modify-write of tag records
	index *blobIndex
	refs  *refIndex // which manifests name which digests, for eviction
}

// openCache creates the layout, takes the directory's lock, removes temp
// files a crash left behind, reads the blobs for the size limit max
// (bytes; 0 or less: no limit) and the manifests for the reverse index.
func openCache(root string, max int64) (*diskCache, error) {
	for _, d := range []string{"blobs", "manifests", "tags", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
	}
	lock, err := lockDir(filepath.Join(root, "lock"))
	if err != nil {
		return nil, err
	}
	c := &diskCache{root: root, lock: lock}
	if err := c.removeTemp(); err != nil {
		c.close()
		return nil, err
	}
	c.index = loadIndex(root, max)
	c.refs = loadRefIndex(root)
	return c, nil
}

func (c *diskCache) close() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

func (c *diskCache) removeTemp() error {
	entries, err := os.ReadDir(c.tmpDir())
	if err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(c.tmpDir(), e.Name())); err != nil {
			return fmt.Errorf("cache directory: remove leftover %s: %w", e.Name(), err)
		}
	}
	return nil
}

// size adds up the bytes of blobs and manifests.
func (c *diskCache) size() int64 {
	var n int64
	for _, d := range []string{"blobs", "manifests"} {
		_ = filepath.WalkDir(filepath.Join(c.root, d), func(_ string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				if info, err := e.Info(); err == nil {
					n += info.Size()
				}
			}
			return nil
		})
	}
	return n
}

func (c *diskCache) tmpDir() string { return filepath.Join(c.root, "tmp") }

func (c *diskCache) blobPath(d digest) string {
	return filepath.Join(c.root, "blobs", d.algorithm(), d.hex()[:2], d.hex())
}

func (c *diskCache) manifestPath(d digest) string {
	return filepath.Join(c.root, "manifests", d.algorithm(), d.hex()[:2], d.hex())
}

// tagPath keeps tags of different registries apart. Uppercase letters are
// written as "^" and the letter (tags may hold both cases, and some file
// systems ignore case); ':' in a registry's host:port becomes '_'.
func (c *diskCache) tagPath(registry, repo, tag string) string {
	var b strings.Builder
	for _, r := range tag {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('^')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	reg := strings.ReplaceAll(strings.ToLower(registry), ":", "_")
	return filepath.Join(c.root, "tags", reg, filepath.FromSlash(repo), b.String()+".json")
}

// commit moves a finished temp file to dst.
func (c *diskCache) commit(tmp, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// createTemp creates a file in tmp/, making tmp/ again when something
// removed it while the mirror ran.
func (c *diskCache) createTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(c.tmpDir(), pattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(c.tmpDir(), 0o700); err == nil {
			f, err = os.CreateTemp(c.tmpDir(), pattern)
		}
	}
	return f, err
}

// writeFile writes data to dst atomically: temp file, fsync, rename.
func (c *diskCache) writeFile(dst string, data []byte) error {
	f, err := c.createTemp("file-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = c.commit(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// cachedManifest is a manifest's bytes with the media type upstream sent.
type cachedManifest struct {
	MediaType string
	Data      []byte
	Digest    digest
}

// putManifest writes m to its place and records what it names in the
// reverse index.
func (c *diskCache) putManifest(m cachedManifest) error {
	var b bytes.Buffer
	b.Grow(len(m.MediaType) + 1 + len(m.Data))
	b.WriteString(m.MediaType)
	b.WriteByte('\n')
	b.Write(m.Data)
	if err := c.writeFile(c.manifestPath(m.Digest), b.Bytes()); err != nil {
		return err
	}
	c.refs.put(m.Digest, int64(b.Len()), namedBy(m.Data))
	return nil
}

// getManifest reads a cached manifest; fs.ErrNotExist when there is none.
// The bytes are hashed again: manifests are small, and a corrupt file must
// never be served.
func (c *diskCache) getManifest(d digest) (cachedManifest, error) {
	raw, err := os.ReadFile(c.manifestPath(d))
	if err != nil {
		return cachedManifest{}, err
	}
	mt, data, ok := bytes.Cut(raw, []byte{'\n'})
	h := d.newHash()
	h.Write(data)
	if !ok || !d.matches(h.Sum(nil)) {
		os.Remove(c.manifestPath(d))
		c.refs.drop(d)
		return cachedManifest{}, fmt.Errorf("cached manifest %s: %w", d, ErrDigestMismatch)
	}
	return cachedManifest{MediaType: string(mt), Data: data, Digest: d}, nil
}

// tagRecord remembers which manifest a tag named, per media type, so that a
// client's Accept header can still be honoured when serving offline.
type tagRecord struct {
	Entries []tagEntry `json:"entries"`
}

type tagEntry struct {
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	Seen      time.Time `json:"seen"`
}

func (c *diskCache) readTag(registry, repo, tag string) (tagRecord, error) {
	var rec tagRecord
	raw, err := os.ReadFile(c.tagPath(registry, repo, tag))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, fmt.Errorf("tag record %s:%s: %w", repo, tag, err)
	}
	return rec, nil
}

// recordTag notes that tag pointed to m just now.
func (c *diskCache) recordTag(registry, repo, tag string, m cachedManifest) error {
	c.tagMu.Lock()
	defer c.tagMu.Unlock()
	rec, err := c.readTag(registry, repo, tag)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		rec = tagRecord{}
	}
	entries := rec.Entries[:0]
	for _, e := range rec.Entries {
		if e.MediaType != m.MediaType {
			entries = append(entries, e)
		}
	}
	rec.Entries = append(entries, tagEntry{MediaType: m.MediaType, Digest: string(m.Digest), Seen: time.Now().UTC()})
	raw, _ := json.Marshal(rec)
	return c.writeFile(c.tagPath(registry, repo, tag), raw)
}
