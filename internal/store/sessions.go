package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/hubmirror/hubmirror/internal/objstore"
)

// Sessions in the store behind the cache: the self_auth sessions a mirror
// issued, kept so that the other mirrors sharing the store honour its
// tokens. The store keeps bytes only: the mirror seals each record with
// its token before it comes here (internal/mirror/sessions_shared.go), and
// names it by a hash of the token, so the bucket holds nothing anyone can
// use without the token.

// sessionsDir is the folder of session records in the store.
const sessionsDir = "sessions/"

// ErrNoSession is Session's error when the store holds no record under
// the id, and every method's when the cache has no store behind it.
var ErrNoSession = errors.New("no such session in the store")

// SharesSessions reports whether the cache has a store behind it in which
// sessions can be shared with other mirrors.
func (c *Cache) SharesSessions() bool { return c.remote != nil }

// sessionKey is the store key of session id; false when id is not one
// (lowercase hex, as the mirror names them).
func sessionKey(id string) (string, bool) {
	if id == "" || len(id) > 128 {
		return "", false
	}
	for _, r := range id {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return "", false
		}
	}
	return sessionsDir + id, true
}

// PutSession writes a session's sealed record under id, only if no record
// is there: an id is a hash of a random token, never reused.
func (c *Cache) PutSession(ctx context.Context, id string, sealed []byte) error {
	if c.remote == nil {
		return ErrNoSession
	}
	key, ok := sessionKey(id)
	if !ok {
		return fmt.Errorf("session id %q is not lowercase hex", id)
	}
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	_, err := c.remote.Create(ctx, key, sealed, nil)
	return err
}

// Session reads the sealed record of session id: an error wrapping
// ErrNoSession when the store has none.
func (c *Cache) Session(ctx context.Context, id string) ([]byte, error) {
	key, ok := sessionKey(id)
	if c.remote == nil || !ok {
		return nil, ErrNoSession
	}
	ctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	raw, err := c.readRemote(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, fmt.Errorf("session %s: %w", id, ErrNoSession)
	}
	return raw, err
}

// lister is a store that lists its objects: *objstore.Store. It is asked
// for by a type assertion so that Remote need not grow a method.
type lister interface {
	List(ctx context.Context, prefix string) iter.Seq2[objstore.Info, error]
}

// PruneSessions deletes the session records written more than olderThan
// ago (the store's write time against this machine's clock), and returns how many it deleted. Without a
// store, or with one that cannot list, it does nothing.
func (c *Cache) PruneSessions(ctx context.Context, olderThan time.Duration) (int, error) {
	l, ok := c.remote.(lister)
	if c.remote == nil || !ok {
		return 0, nil
	}
	cutoff := time.Now().Add(-olderThan)
	var old []string
	for info, err := range l.List(ctx, sessionsDir) {
		if err != nil {
			return 0, err
		}
		if strings.HasPrefix(info.Key, sessionsDir) && info.LastModified.Before(cutoff) {
			old = append(old, info.Key)
		}
	}
	n := 0
	for _, key := range old {
		dctx, cancel := context.WithTimeout(ctx, remoteTimeout)
		err := c.remote.Delete(dctx, key)
		cancel()
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
