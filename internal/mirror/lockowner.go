package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// markOwner records in the lock file where this mirror listens.
func (c *diskCache) markOwner(addr string) error {
	if c.lock == nil {
		return nil
	}
	if err := writeOwner(c.lock.owner, addr); err != nil {
		return fmt.Errorf("cache directory: lock file: %w", err)
	}
	return nil
}
