package mirror

import (
	"context"
	"log/slog"
	"time"

	"github.com/hubmirror/hubmirror/internal/objstore"
)

// An upload to the store goes to uploads/ first (objstore.PutAtomic); a
// mirror killed in the middle of one leaves it there, never under a
// digest key. Every mirror on the store removes such leftovers: at start
// and then every uploadsCleanEvery, those older than uploadsMaxAge, which
// no upload that is still running can be (the largest layers take minutes).
const (
	uploadsCleanEvery = 6 * time.Hour
	uploadsMaxAge     = 24 * time.Hour
)

// cleanUploads removes what killed uploads left in remote, older than
// age, now and then every every, until ctx ends.
func cleanUploads(ctx context.Context, remote *objstore.Store, log *slog.Logger, age, every time.Duration) {
	for {
		n, err := remote.CleanUploads(ctx, age)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("cannot remove what cut uploads left in the store", "err", err)
		case n > 0:
			log.Info("removed what cut uploads left in the store", "objects", n, "older than", age)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
