package mirror

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// defaultPinRefresh is how often pinned images are checked for moved tags
// when Config.PinRefresh is 0.
const defaultPinRefresh = 30 * time.Minute

// SetPins sets the pinned images: kept whole and never evicted, fetched
// now in the background and again whenever their tags move.
func (m *Mirror) SetPins(refs []string) {
	m.mu.Lock()
	m.cfg.Pinned = append([]string(nil), refs...)
	poke := m.pinPoke
	m.mu.Unlock()
	m.changed()
	if poke != nil {
		select {
		case poke <- struct{}{}:
		default:
		}
	}
}

// keepPins fetches the pinned images into the cache, in-process through
// s (fetchImage: no request to the listener, so none that self_auth would
// have to let through), when the mirror starts, when the pins change and
// every Config.PinRefresh, and marks their blobs as not to be evicted. It
// runs until ctx ends.
func (m *Mirror) keepPins(ctx context.Context, s *server, poke <-chan struct{}) {
	m.mu.Lock()
	every := m.cfg.PinRefresh
	m.mu.Unlock()
	if every <= 0 {
		every = defaultPinRefresh
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		m.mu.Lock()
		pins := append([]string(nil), m.cfg.Pinned...)
		m.mu.Unlock()
		var keep []digest.Digest
		complete := true
		for _, p := range pins {
			ref, err := ParseRef(p)
			if err != nil {
				m.log.Warn("pinned image ignored", "ref", p, "err", err)
				continue
			}
			res, err := s.fetchImage(ctx, ref, nil, nil)
			keep = append(keep, res.Digests...)
			if err != nil {
				complete = false
				if ctx.Err() == nil {
					m.log.Warn("pinned image not refreshed", "ref", p, "err", err)
				}
			}
		}
		if ctx.Err() != nil {
			return // the cache is closing: the next start fetches them again
		}
		if complete || len(keep) > 0 {
			s.cache.SetPinned(keep)
			m.changed() // the pinned figures moved
		}
		if len(pins) > 0 && complete {
			m.log.Info("pinned images up to date", "images", len(pins), "blobs", len(keep))
		}
		if m.pinsDone != nil {
			m.pinsDone(keep, complete)
		}
		select {
		case <-ctx.Done():
			return
		case <-poke:
		case <-tick.C:
		}
	}
}
