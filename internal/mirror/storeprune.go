package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/store"
)

// DefaultStoreGrace is how recently used a blob in the store may be and
// still be pruned: never within a day and an hour, so that no blob a
// mirror on the store is serving goes (store.DefaultStoreGrace).
const DefaultStoreGrace = store.DefaultStoreGrace

// StorePruned is what PruneStore did: the store (its URL without
// credentials; "" when it could not be opened), the blobs it deleted
// there, their bytes, and the bytes of blobs left there.
type StorePruned struct {
	Store string
	Blobs int
	Freed int64
	Left  int64
}

// PruneStore deletes the least recently used blobs from the object store
// cfg.Store names, with cfg.StoreCredentials (nil: the AWS environment
// variables, then the shared credentials file), until at most to bytes
// of blobs are left: never a blob of an image any mirror on the store
// has pinned, nor one used within grace. It is `hubmirror cache prune`
// on a store; no mirror needs to be stopped for it.
func PruneStore(ctx context.Context, cfg Config, to int64, grace time.Duration) (StorePruned, error) {
	remote, err := openStoreURL(ctx, cfg.Store, cfg.StoreCredentials)
	if err != nil {
		return StorePruned{}, err
	}
	res, err := store.PruneStore(ctx, remote, to, grace)
	out := StorePruned{Store: remote.Config().String(), Blobs: res.Blobs, Freed: res.Freed, Left: res.Left}
	var pins *store.PinRecordError
	switch {
	case errors.As(err, &pins):
		return out, fmt.Errorf(i18n.Key("nothing removed from the store: the record of pinned images %s cannot be read (%v); if it is damaged, delete it: its mirror writes it again within a day"), pins.Key, pins.Err)
	case err != nil:
		return out, fmt.Errorf(i18n.Key("store %s: %w"), remote.Config(), err)
	}
	return out, nil
}

// openStoreURL connects to the object store raw names, an s3:// URL,
// with creds (nil: objstore.DefaultCredentials).
func openStoreURL(ctx context.Context, raw string, creds objstore.Credentials) (*objstore.Store, error) {
	cfg, err := objstore.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf(i18n.Key("store: %w"), err)
	}
	if creds == nil {
		creds = objstore.DefaultCredentials()
	}
	ctx, cancel := context.WithTimeout(ctx, storeOpenTimeout)
	defer cancel()
	remote, err := objstore.Open(ctx, cfg, creds)
	if err != nil {
		return nil, fmt.Errorf(i18n.Key("store %s: %w"), cfg, err)
	}
	return remote, nil
}
