//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLockDirExcludesOlderHubmirror: a hubmirror from before gofrs/flock
// took flock(2) on the lock file itself; the lock today's takes must
// conflict with that one, so that the two never share a directory during
// an upgrade.
func TestLockDirExcludesOlderHubmirror(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	l, err := lockDir(path)
	if err == nil {
		l.Close()
		t.Fatal("took the lock an older hubmirror holds")
	}
	if !errors.Is(err, ErrCacheInUse) {
		t.Errorf("lock held the old way: %v, want ErrCacheInUse", err)
	}
}
