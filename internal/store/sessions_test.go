package store

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/objstore"
)

// openWithRemote opens a cache in a temporary directory with f behind it.
func openWithRemote(t *testing.T, f *fakeRemote) *Cache {
	t.Helper()
	c, err := Open(t.TempDir(), Options{Remote: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Session records are kept as bytes under sessions/, written once.
func TestSessionRecords(t *testing.T) {
	f := newFakeRemote()
	c := openWithRemote(t, f)
	ctx := context.Background()
	id := strings.Repeat("ab", 32)
	if !c.SharesSessions() {
		t.Fatal("a cache with a store does not share sessions")
	}
	if _, err := c.Session(ctx, id); !errors.Is(err, ErrNoSession) {
		t.Errorf("a missing record: %v, want ErrNoSession", err)
	}
	if err := c.PutSession(ctx, id, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Session(ctx, id); err != nil || !bytes.Equal(got, []byte("sealed")) {
		t.Errorf("read back %q, %v", got, err)
	}
	if _, ok := f.objects["sessions/"+id]; !ok {
		t.Errorf("no object under sessions/: %v", f.writes)
	}
	if err := c.PutSession(ctx, id, []byte("other")); !errors.Is(err, objstore.ErrExists) {
		t.Errorf("a second write under one id: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "../blobs/x", "AB", strings.Repeat("a", 129)} {
		if err := c.PutSession(ctx, bad, []byte("x")); err == nil {
			t.Errorf("id %q accepted", bad)
		}
		if _, err := c.Session(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("id %q read: %v", bad, err)
		}
	}
	f.mu.Lock()
	f.fail = errStoreDown
	f.mu.Unlock()
	if _, err := c.Session(ctx, id); err == nil || errors.Is(err, ErrNoSession) {
		t.Errorf("a store that is down: %v, want its error, not ErrNoSession", err)
	}
}

// A cache without a store shares no sessions.
func TestSessionsWithoutStore(t *testing.T) {
	c, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	id := strings.Repeat("cd", 32)
	if c.SharesSessions() {
		t.Error("a cache without a store shares sessions")
	}
	if err := c.PutSession(ctx, id, []byte("x")); !errors.Is(err, ErrNoSession) {
		t.Errorf("put: %v", err)
	}
	if _, err := c.Session(ctx, id); !errors.Is(err, ErrNoSession) {
		t.Errorf("read: %v", err)
	}
	if n, err := c.PruneSessions(ctx, time.Hour); n != 0 || err != nil {
		t.Errorf("prune: %d, %v", n, err)
	}
}

// PruneSessions deletes old session records and nothing else.
func TestPruneSessions(t *testing.T) {
	f := newFakeRemote()
	c := openWithRemote(t, f)
	ctx := context.Background()
	old, young := strings.Repeat("01", 32), strings.Repeat("02", 32)
	f.mu.Lock()
	f.clock = func() time.Time { return time.Now().Add(-26 * time.Hour) }
	f.mu.Unlock()
	if err := c.PutSession(ctx, old, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Create(ctx, "manifests/sha256/aa/old", []byte("an old manifest"), nil); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.clock = time.Now
	f.mu.Unlock()
	if err := c.PutSession(ctx, young, []byte("young")); err != nil {
		t.Fatal(err)
	}
	n, err := c.PruneSessions(ctx, 25*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	if _, err := c.Session(ctx, old); !errors.Is(err, ErrNoSession) {
		t.Errorf("the old record is still there: %v", err)
	}
	if _, err := c.Session(ctx, young); err != nil {
		t.Errorf("the young record is gone: %v", err)
	}
	if _, ok := f.objects["manifests/sha256/aa/old"]; !ok {
		t.Error("an old object outside sessions/ was deleted")
	}
	f.mu.Lock()
	f.fail = errStoreDown
	f.mu.Unlock()
	if _, err := c.PruneSessions(ctx, time.Hour); err == nil {
		t.Error("a failed listing was not reported")
	}
}
