package store

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// refIndex is the cache's reverse index of manifests: for each digest, the
// cached manifests that name it (as config, layer or platform manifest).
// Eviction looks up there which manifests go with the blobs it removes,
// so its cost grows with what it removes, not with the number of cached
// manifests. The manifest files stay the truth: the index is built from
// them when the cache is opened and kept in step with every manifest the
// cache writes or removes.
type refIndex struct {
	mu    sync.Mutex
	named map[digest.Digest][]digest.Digest            // a manifest → the digests it names
	size  map[digest.Digest]int64                      // a manifest → its file's size
	users map[digest.Digest]map[digest.Digest]struct{} // a digest → the manifests that name it
}

// refEntry is one manifest of the index: its digest, file size and what
// it names.
type refEntry struct {
	digest digest.Digest
	size   int64
	named  []digest.Digest
}

func newRefIndex() *refIndex {
	return &refIndex{named: map[digest.Digest][]digest.Digest{}, size: map[digest.Digest]int64{}, users: map[digest.Digest]map[digest.Digest]struct{}{}}
}

// loadRefIndex reads every manifest under root/manifests once. A file that
// cannot be read or is not JSON names nothing (as namedBy has it):
// eviction then leaves it, and serving it checks its digest anyway.
func loadRefIndex(root string) *refIndex {
	x := newRefIndex()
	base := filepath.Join(root, "manifests")
	_ = filepath.WalkDir(base, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(base, path) // sha256/ab/abcd…
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 3 {
			return nil
		}
		d, err := oci.ParseDigest(parts[0] + ":" + parts[2])
		if err != nil {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		_, data, _ := bytes.Cut(raw, []byte{'\n'})
		x.put(d, int64(len(raw)), namedBy(data))
		return nil
	})
	return x
}

// namedBy is every digest a manifest's bytes name, blobs and platform
// manifests alike; references that are no digests are left out, and
// bytes that are no manifest name nothing.
func namedBy(data []byte) []digest.Digest {
	refs, err := oci.ManifestRefs(data)
	if err != nil {
		return nil
	}
	return oci.Digests(refs.Blobs, refs.Children)
}

// put records manifest m, whose file has size bytes and which names the
// given digests, replacing what was recorded for m before.
func (x *refIndex) put(m digest.Digest, size int64, named []digest.Digest) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropLocked(m)
	x.named[m], x.size[m] = named, size
	for _, d := range named {
		set := x.users[d]
		if set == nil {
			set = map[digest.Digest]struct{}{}
			x.users[d] = set
		}
		set[m] = struct{}{}
	}
}

// drop forgets manifest m, whose file is gone.
func (x *refIndex) drop(m digest.Digest) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropLocked(m)
}

func (x *refIndex) dropLocked(m digest.Digest) {
	for _, d := range x.named[m] {
		if set := x.users[d]; set != nil {
			delete(set, m)
			if len(set) == 0 {
				delete(x.users, d)
			}
		}
	}
	delete(x.named, m)
	delete(x.size, m)
}

// takeUsers forgets and returns every manifest that names one of gone, and
// every manifest that names one of those (an index whose platform manifest
// goes), each once, nearest first.
func (x *refIndex) takeUsers(gone []digest.Digest) []refEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []refEntry
	taken := map[digest.Digest]bool{}
	queue := append([]digest.Digest(nil), gone...)
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for m := range x.users[d] {
			if !taken[m] {
				taken[m] = true
				out = append(out, refEntry{digest: m, size: x.size[m], named: x.named[m]})
				queue = append(queue, m)
			}
		}
	}
	for _, e := range out {
		x.dropLocked(e.digest)
	}
	return out
}

// reset forgets every manifest (the cache was emptied).
func (x *refIndex) reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.named, x.size, x.users = map[digest.Digest][]digest.Digest{}, map[digest.Digest]int64{}, map[digest.Digest]map[digest.Digest]struct{}{}
}

// len returns the number of manifests recorded.
func (x *refIndex) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.named)
}
