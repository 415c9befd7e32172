package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
)

// errStoreDown is what a fakeRemote that fails answers.
var errStoreDown = errors.New("connection refused")

// fakeRemote is an in-memory store for the unit tests of what the cache
// does when the store fails; the rest is tested against a real server.
type fakeRemote struct {
	mu      sync.Mutex
	objects map[string][]byte
	// fail, when set, is every request's answer.
	fail error
	// cutAfter, when > 0, cuts the first Get's body after that many
	// bytes, and fails every Get after it.
	cutAfter int
	gets     int
	// failDelete makes Delete fail.
	failDelete bool
	// gate, when set, holds the first write until it is closed.
	gate chan struct{}
	// writes are the keys written, in order (not SetMeta's stamps).
	writes []string

	// clock is the time objects are modified at: time.Now, or a test's
	// fake clock.
	clock func() time.Time
	// modified are the objects' last-modified times.
	modified map[string]time.Time
	// stamps and deletes are the keys SetMeta and Delete were asked of,
	// in order.
	stamps, deletes []string
}

func newFakeRemote() *fakeRemote {
	return &fakeRemote{objects: map[string][]byte{}, modified: map[string]time.Time{}, clock: time.Now}
}

// etag is an object's version: its bytes' digest.
func etag(data []byte) string { return digest.FromBytes(data).Encoded() }

func (f *fakeRemote) info(key string) (objstore.Info, error) {
	if f.fail != nil {
		return objstore.Info{}, f.fail
	}
	data, ok := f.objects[key]
	if !ok {
		return objstore.Info{}, fmt.Errorf("fake: %s: %w", key, objstore.ErrNotFound)
	}
	return objstore.Info{Key: key, Size: int64(len(data)), ETag: etag(data), LastModified: f.modified[key]}, nil
}

func (f *fakeRemote) Stat(_ context.Context, key string) (objstore.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info(key)
}

func (f *fakeRemote) Get(_ context.Context, key string, off, n int64) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.info(key); err != nil {
		return nil, err
	}
	f.gets++
	if f.cutAfter > 0 && f.gets > 1 {
		return nil, errStoreDown
	}
	data := f.objects[key][off:]
	if n >= 0 {
		data = data[:n]
	}
	if f.cutAfter > 0 {
		return cutBody(data, f.cutAfter), nil
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (f *fakeRemote) PutAtomic(_ context.Context, key string, r io.Reader, _ int64, opts objstore.PutOptions) (objstore.Info, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return objstore.Info{}, err
	}
	if opts.Verify != nil {
		if err := opts.Verify(); err != nil {
			return objstore.Info{}, err
		}
	}
	return f.put(key, data, opts.IfAbsent, "")
}

func (f *fakeRemote) Create(_ context.Context, key string, data []byte, _ map[string]string) (objstore.Info, error) {
	return f.put(key, data, true, "")
}

func (f *fakeRemote) Update(_ context.Context, key string, data []byte, _ map[string]string, etag string) (objstore.Info, error) {
	return f.put(key, data, false, etag)
}

// put stores data under key: only if absent, or only if its version is
// ifMatch, when asked.
func (f *fakeRemote) put(key string, data []byte, ifAbsent bool, ifMatch string) (objstore.Info, error) {
	f.mu.Lock()
	if gate := f.gate; gate != nil {
		f.gate = nil
		f.mu.Unlock()
		<-gate
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if f.fail != nil {
		return objstore.Info{}, f.fail
	}
	old, ok := f.objects[key]
	switch {
	case ifAbsent && ok:
		return objstore.Info{}, fmt.Errorf("fake: %s: %w", key, objstore.ErrExists)
	case ifMatch != "" && !ok:
		return objstore.Info{}, fmt.Errorf("fake: %s: %w", key, objstore.ErrNotFound)
	case ifMatch != "" && etag(old) != ifMatch:
		return objstore.Info{}, fmt.Errorf("fake: %s: %w", key, objstore.ErrChanged)
	}
	f.objects[key] = bytes.Clone(data)
	f.modified[key] = f.clock()
	f.writes = append(f.writes, key)
	return f.info(key)
}

func (f *fakeRemote) Put(_ context.Context, key string, data []byte, _ map[string]string) (objstore.Info, error) {
	return f.put(key, data, false, "")
}

// SetMeta gives the object a new last-modified time, as a copy in place
// does; the metadata itself is not kept.
func (f *fakeRemote) SetMeta(_ context.Context, key string, _ map[string]string) (objstore.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.info(key); err != nil {
		return objstore.Info{}, err
	}
	f.modified[key] = f.clock()
	f.stamps = append(f.stamps, key)
	return f.info(key)
}

// List yields the objects under prefix in key order, without uploads/,
// as objstore's does.
func (f *fakeRemote) List(_ context.Context, prefix string) iter.Seq2[objstore.Info, error] {
	return func(yield func(objstore.Info, error) bool) {
		f.mu.Lock()
		if f.fail != nil {
			err := f.fail
			f.mu.Unlock()
			yield(objstore.Info{}, err)
			return
		}
		var infos []objstore.Info
		for key := range f.objects {
			if strings.HasPrefix(key, prefix) && !strings.HasPrefix(key, objstore.UploadsDir) {
				info, _ := f.info(key)
				infos = append(infos, info)
			}
		}
		f.mu.Unlock()
		slices.SortFunc(infos, func(a, b objstore.Info) int { return strings.Compare(a.Key, b.Key) })
		for _, info := range infos {
			if !yield(info, nil) {
				return
			}
		}
	}
}

func (f *fakeRemote) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if f.failDelete {
		return errStoreDown
	}
	f.deletes = append(f.deletes, key)
	delete(f.objects, key)
	delete(f.modified, key)
	return nil
}
