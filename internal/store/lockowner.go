package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrCacheInUse is returned when another hubmirror holds the cache
// directory's lock.
var ErrCacheInUse = errors.New("cache directory in use by another hubmirror")

// lockOwner is what the lock file says about the process holding it, so
// that a second one can name it.
type lockOwner struct {
	PID  int    `json:"pid"`
	Addr string `json:"addr,omitempty"` // where it listens; "" for the cache command
}

// writeOwner replaces the lock file's content with this process and addr.
// The lock is held, so no other process writes it meanwhile.
func writeOwner(f *os.File, addr string) error {
	raw, err := json.Marshal(lockOwner{PID: os.Getpid(), Addr: addr})
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.WriteAt(append(raw, '\n'), 0)
	return err
}

// inUse is the error for a cache directory whose lock file at path is
// held by another process, naming it when the file says who.
func inUse(dir, path string) error {
	var o lockOwner
	raw, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(raw, &o)
	}
	who := ""
	switch {
	case err != nil || o.PID == 0:
	case o.Addr != "":
		who = fmt.Sprintf(" (pid %d, listening on %s)", o.PID, o.Addr)
	default:
		who = fmt.Sprintf(" (pid %d)", o.PID)
	}
	return fmt.Errorf("%w: %s%s: stop it or choose another --cache-dir", ErrCacheInUse, dir, who)
}

// MarkOwner records in the lock file where the mirror holding the cache
// listens, so that a cache command finds it (HolderAddr).
func (c *Cache) MarkOwner(addr string) error {
	if c.lock == nil {
		return nil
	}
	if err := writeOwner(c.lock.owner, addr); err != nil {
		return fmt.Errorf("cache directory: lock file: %w", err)
	}
	return nil
}

// HolderAddr is where the mirror holding the lock of the cache directory
// dir listens, as the lock file says; "" when the holder is not a mirror
// or the file says nothing. Only a failed Open makes it worth asking: the
// record is trusted no further than "someone there says so".
func HolderAddr(dir string) string {
	raw, err := os.ReadFile(filepath.Join(dir, "lock"))
	if err != nil {
		return ""
	}
	var o lockOwner
	if json.Unmarshal(raw, &o) != nil {
		return ""
	}
	return o.Addr
}
