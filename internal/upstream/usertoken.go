package upstream

import (
	"context"
	"sync"
)

// UserToken is a client's own upstream token under self_auth: what the
// mirror acts with on that user's behalf, so upstream decides what the user
// may read. Client.Login makes one. A pull can outlive it (Docker Hub's
// last 300 s), so it renews itself with what the user logged in with.
// Those credentials stay in this process's memory for the life of the
// session and of the downloads it started; they are never written, logged
// or sent anywhere but upstream's token service. Its zero value is a token
// that is empty and never renewed.
type UserToken struct {
	mu    sync.Mutex
	value string
	renew func(ctx context.Context) (string, error)
}

// current returns the token to send now.
func (t *UserToken) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.value
}

// refresh gets a new token after upstream refused stale. Concurrent callers
// that saw the same stale token share one renewal.
func (t *UserToken) refresh(ctx context.Context, stale string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != stale || t.renew == nil {
		return nil
	}
	v, err := t.renew(ctx)
	if err != nil {
		return err
	}
	t.value = v
	return nil
}

// FixedToken is a user's upstream token known only by its value: that of
// a session another mirror issued, read from the store they share. It is
// never renewed (the password stayed with the mirror the user logged in
// to), so a pull that outlives it gets upstream's refusal, and the client
// logs in again.
func FixedToken(value string) *UserToken {
	return &UserToken{value: value}
}

// Value is the token to send now, for a session shared with other
// mirrors through the store. It is a secret: never log it.
func (t *UserToken) Value() string {
	return t.current()
}
