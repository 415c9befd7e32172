//go:build unix

package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/store"
)

// TestCacheLockNamesOwner: a second mirror on a cache directory in use is
// told which process holds it and where that one listens.
func TestCacheLockNamesOwner(t *testing.T) {
	hub := newHub(t)
	tm := startMirror(t, hub)
	other, err := New(Config{Listen: "127.0.0.1:0", CacheDir: tm.dir})
	if err != nil {
		t.Fatal(err)
	}
	err = other.Start()
	if err == nil {
		other.Stop(context.Background())
		t.Fatal("a second mirror started on the same cache directory")
	}
	for _, want := range []string{fmt.Sprintf("pid %d", os.Getpid()), tm.Addr()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if !errors.Is(err, ErrCacheInUse) {
		t.Errorf("error %q does not wrap ErrCacheInUse", err)
	}
}

// TestCacheLockOwnerAfterRestart: the owner's address is the new one after
// the first mirror stops and another takes the directory.
func TestCacheLockOwnerAfterRestart(t *testing.T) {
	hub := newHub(t)
	dir := t.TempDir()
	first := startMirrorIn(t, hub, dir)
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := startMirrorIn(t, hub, dir)
	c, err := store.Open(dir, store.Options{})
	if err == nil {
		c.Close()
	}
	if err == nil || !strings.Contains(err.Error(), second.Addr()) {
		t.Errorf("cache command while the second mirror runs: %v, want its address %s", err, second.Addr())
	}
}
