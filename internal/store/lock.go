package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// dirLock is a held cache-directory lock. The OS lock comes from
// github.com/gofrs/flock (flock(2) on Unix, LockFileEx on Windows), so two
// mirrors, or a mirror and a cache command, never share one directory on
// any system. The lock file itself names the holder (see lockOwner), which
// is how a second process finds the running mirror.
type dirLock struct {
	held  *flock.Flock // the OS lock; nil where the system has none
	owner *os.File     // the lock file, open for writing the owner record
}

// lockDir takes the exclusive lock for the cache directory whose lock file
// is path, and records this process in that file. When another process
// holds the lock, the error wraps ErrCacheInUse and names the holder. The
// lock goes away with the process, or earlier with Close.
func lockDir(path string) (*dirLock, error) {
	owner, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	held, err := tryLock(lockTarget(path))
	if err != nil {
		owner.Close()
		if errors.Is(err, ErrCacheInUse) {
			return nil, inUse(filepath.Dir(path), path)
		}
		return nil, fmt.Errorf("cache directory: lock: %w", err)
	}
	l := &dirLock{held: held, owner: owner}
	if err := writeOwner(owner, ""); err != nil {
		l.Close()
		return nil, fmt.Errorf("cache directory: lock file: %w", err)
	}
	return l, nil
}

// tryLock takes the OS lock on target without waiting. It returns
// ErrCacheInUse when another holds it, and a nil lock (and no error) on a
// system without file locks, where the directory is only marked, as before.
func tryLock(target string) (*flock.Flock, error) {
	fl := flock.New(target)
	ok, err := fl.TryLock()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return nil, nil
	case err != nil:
		return nil, err
	case !ok:
		return nil, ErrCacheInUse
	}
	return fl, nil
}

// Close releases the lock. The owner record is left as it is: the next
// holder overwrites it, and nobody trusts it without the lock held.
func (l *dirLock) Close() error {
	err := l.owner.Close()
	if l.held != nil {
		err = errors.Join(err, l.held.Unlock())
	}
	return err
}
