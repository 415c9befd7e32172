// Package store is hubmirror's blob store: the cache directory's layout,
// its lock, the verified blobs and manifests in it with the index that
// keeps them under the size limit, the tag records that let a tag be
// served offline, and the downloads that fill it, one per blob, which
// every client asking for that blob reads as it grows.
//
// It deals in bytes and digests only. What a request may see, and how
// upstream is asked, belong to its callers: a download reaches upstream
// through an OpenFunc. It imports no HTTP code.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// Cache is an open cache directory, laid out as
//
//	blobs/sha256/ab/abcd…       verified blob bytes, named by digest
//	manifests/sha256/ab/abcd…   "<media type>\n" then the verified manifest bytes
//	tags/<registry>/<repo>/<tag>.json   the manifests a tag last pointed to
//	tmp/                        downloads in progress; emptied at start
//
// Every file enters its place by rename from tmp/, so a reader sees a
// whole verified file or none. Names come only from validated digests,
// repository names and tags (package oci), which cannot contain "..".
//
// An open Cache holds the directory's lock: one mirror or one cache
// command at a time. Its methods are safe for concurrent use.
//
// With a store behind it (Options.Remote, see remote.go) the directory
// is a bounded read-through cache in front of the store, which holds the
// same objects under the same names as keys.
type Cache struct {
	root  string
	lock  *dirLock   // the directory's lock; nil once closed
	tagMu sync.Mutex // serializes read-modify-write of tag records
	index *blobIndex
	refs  *refIndex // which manifests name which digests, for eviction
	stats *Stats
	log   *slog.Logger
	// remote is the store behind the cache, nil for none; records writes
	// manifests and tag records through to it.
	remote  Remote
	records *recordQueue
	// storeMax bounds the blobs in the store (Options.StoreMax).
	storeMax int64
	// now is the clock of the store's stamps and eviction: time.Now,
	// or a test's.
	now func() time.Time
	// manualTend is Options.manualTend.
	manualTend bool
	// keeper is the store's keeper (storemax.go), set by NewBlobs; nil
	// without a store.
	keeper atomic.Pointer[keeper]
}

// Options are how a cache directory is opened.
type Options struct {
	// Max bounds the bytes of blobs kept: the least recently used go
	// first, never one in use or pinned. 0 or less: no limit.
	Max int64
	// Stats receives the cache's figures, and those of the downloads
	// into it (see Blobs); the cache keeps figures of its own when nil.
	Stats *Stats
	// Remote, when not nil, is the object store behind the cache
	// (*objstore.Store): blobs, manifests and tag records missing here
	// are read from it, and those fetched from upstream are written to
	// it. The directory stays bounded by Max.
	Remote Remote
	// StoreMax bounds the bytes of blobs in the store behind the cache
	// (Remote), with every mirror on it: the least recently used go
	// first, never a pinned image's nor one used within a day (see
	// storemax.go). 0 or less: no bound.
	StoreMax int64
	// Log gets the lines of the store behind the cache; slog.Default()
	// when nil.
	Log *slog.Logger

	// clock, when set (by tests), replaces time.Now for the store's
	// stamps and eviction.
	clock func() time.Time
	// manualTend (tests) starts no timer for the store's listings and pin
	// record: the test calls keeper.tend.
	manualTend bool
}

// Open creates the layout in dir, takes the directory's lock (an error
// wrapping ErrCacheInUse, naming the holder, when another process has
// it), removes temp files a crash left behind, and reads the blobs for
// the size limit and the manifests for the reverse index.
func Open(dir string, o Options) (*Cache, error) {
	for _, d := range []string{"blobs", "manifests", "tags", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
	}
	lock, err := lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, err
	}
	c := &Cache{root: dir, lock: lock, stats: o.Stats, log: o.Log, remote: o.Remote, storeMax: o.StoreMax, now: o.clock, manualTend: o.manualTend}
	if c.now == nil {
		c.now = time.Now
	}
	if c.stats == nil {
		c.stats = new(Stats)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if err := c.removeTemp(); err != nil {
		c.Close()
		return nil, err
	}
	c.index = loadIndex(dir, o.Max)
	c.refs = loadRefIndex(dir)
	c.stats.CacheBytes.Store(c.size())
	if c.remote != nil {
		c.records = newRecordQueue(c)
	}
	return c, nil
}

// Close writes the manifests and tag records still waiting to the store
// behind the cache, for at most drainTimeout, and releases the
// directory's lock.
func (c *Cache) Close() {
	if c.records != nil {
		c.records.close()
	}
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

// Dir is the cache directory.
func (c *Cache) Dir() string { return c.root }

func (c *Cache) removeTemp() error {
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

// size adds up the bytes of blobs and manifests on disk.
func (c *Cache) size() int64 {
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

func (c *Cache) tmpDir() string { return filepath.Join(c.root, "tmp") }

// blobKey, manifestKey and tagKey are where a blob, a manifest and a tag
// record live relative to the cache directory, with slashes. They are
// also the objects' keys in the store behind the cache, under its prefix,
// so the two layouts cannot drift apart.
//
// Blobs and manifests go under the algorithm, then the first two hex
// digits of the digest.
func blobKey(d digest.Digest) string {
	return path.Join("blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded())
}

func manifestKey(d digest.Digest) string {
	return path.Join("manifests", d.Algorithm().String(), d.Encoded()[:2], d.Encoded())
}

// tagKey keeps tags of different registries apart. Uppercase letters are
// written as "^" and the letter (tags may hold both cases, and some file
// systems ignore case); ':' in a registry's host:port becomes '_'.
func tagKey(registry, repo, tag string) string {
	var b strings.Builder
	for _, r := range tag {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('^')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	reg := strings.ReplaceAll(strings.ToLower(registry), ":", "_")
	return path.Join("tags", reg, repo, b.String()+".json")
}

// local is the file of key, one of the keys above, in the cache
// directory.
func (c *Cache) local(key string) string {
	return filepath.Join(c.root, filepath.FromSlash(key))
}

// blobPath, manifestPath and tagPath are the files of blobKey,
// manifestKey and tagKey.
func (c *Cache) blobPath(d digest.Digest) string { return c.local(blobKey(d)) }

func (c *Cache) manifestPath(d digest.Digest) string { return c.local(manifestKey(d)) }

func (c *Cache) tagPath(registry, repo, tag string) string {
	return c.local(tagKey(registry, repo, tag))
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

// commit moves a finished temp file to dst.
func (c *Cache) commit(tmp, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// createTemp creates a file in tmp/, making tmp/ again when something
// removed it while the mirror ran.
func (c *Cache) createTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(c.tmpDir(), pattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(c.tmpDir(), 0o700); err == nil {
			f, err = os.CreateTemp(c.tmpDir(), pattern)
		}
	}
	return f, err
}

// writeFile writes data to dst atomically: temp file, fsync, rename.
func (c *Cache) writeFile(dst string, data []byte) error {
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
