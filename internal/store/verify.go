package store

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
)

// A cached blob is checked against its digest once per file version before
// it is served: when a download commits it (its bytes were hashed on the
// way in), or the first time it is opened after a start. A file whose size,
// modification time or identity changed since (a flipped byte, a truncated
// or emptied file, another file in its place) is hashed again before any of
// it goes out; one that no longer matches is removed, logged, counted in
// /metrics (Stats.DamagedBlobs), and fetched again from upstream for the
// client that asked.
// Verified versions go out with sendfile, as before: the cost is one read
// of each blob per process, not one per pull.

// errDamaged is a cached blob that did not match its digest and was
// removed: for callers it is not in the cache.
var errDamaged = fmt.Errorf("cached blob did not match its digest: %w", fs.ErrNotExist)

// fileVersion tells one state of a file from another without reading it.
type fileVersion struct {
	size  int64
	mtime int64 // nanoseconds
	ino   uint64
}

func versionOf(info os.FileInfo) fileVersion {
	return fileVersion{size: info.Size(), mtime: info.ModTime().UnixNano(), ino: inode(info)}
}

// isVerified reports whether d's file in version v was checked.
func (ix *blobIndex) isVerified(d digest.Digest, v fileVersion) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.blobs[d]
	return e != nil && e.verified == v
}

// markVerified records that d's file in version v matched its digest.
func (ix *blobIndex) markVerified(d digest.Digest, v fileVersion) {
	ix.mu.Lock()
	if e := ix.blobs[d]; e != nil {
		e.verified = v
	}
	ix.mu.Unlock()
}

// hashFile reports whether f's bytes match d.
func hashFile(f *os.File, d digest.Digest) (bool, error) {
	v := d.Verifier()
	if _, err := io.Copy(v, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return false, err
	}
	return v.Verified(), nil
}

// verifyCached makes sure the open cached file f of d, in version v, is
// whole. It returns errDamaged after removing a file that is not.
func (b *Blobs) verifyCached(d digest.Digest, f *os.File, v fileVersion) error {
	ix := b.cache.index
	if ix.isVerified(d, v) {
		return nil
	}
	start := time.Now()
	ok, err := hashFile(f, d)
	if err != nil {
		return fmt.Errorf("blob %s: read cached file: %w", d, err)
	}
	if ok {
		ix.markVerified(d, v)
		b.log.Debug("cached blob verified", "digest", string(d), "bytes", v.size, "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	b.removeDamaged(d, v)
	return errDamaged
}

// removeDamaged removes d's cached file if it is still version v.
func (b *Blobs) removeDamaged(d digest.Digest, v fileVersion) {
	path := b.cache.blobPath(d)
	b.mu.Lock()
	defer b.mu.Unlock()
	info, err := os.Stat(path)
	if err != nil || versionOf(info) != v {
		return // already replaced or removed by someone else
	}
	if err := os.Remove(path); err != nil {
		b.log.Warn("remove damaged cached blob", "digest", string(d), "err", err)
		return
	}
	b.cache.index.forget(d)
	b.cache.stats.CacheBytes.Add(-v.size)
	b.cache.stats.DamagedBlobs.Add(1)
	b.log.Warn("cached blob did not match its digest: removed, it will be fetched again", "digest", string(d), "bytes", v.size)
}
