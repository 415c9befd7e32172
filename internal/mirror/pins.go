package mirror

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/upstream"
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

// keepPins fetches the pinned images through the mirror's own listener
// when it starts, when the pins change and every Config.PinRefresh, and
// marks their blobs as not to be evicted. It runs until ctx ends.
func (m *Mirror) keepPins(ctx context.Context, addr, token string, poke <-chan struct{}) {
	client := upstream.NewHTTPClient(nil)
	base := "http://" + clientsetup.ClientHost(addr)
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
		cache := m.cache
		m.mu.Unlock()
		var keep []digest.Digest
		complete := true
		for _, p := range pins {
			ref, err := ParseRef(p)
			if err != nil {
				m.log.Warn("pinned image ignored", "ref", p, "err", err)
				continue
			}
			res, err := Prefetch(ctx, client, base, ref, nil, "Bearer "+token, nil)
			keep = append(keep, res.Digests...)
			if err != nil {
				complete = false
				if ctx.Err() == nil {
					m.log.Warn("pinned image not refreshed", "ref", p, "err", err)
				}
			}
		}
		if cache != nil && (complete || len(keep) > 0) {
			cache.SetPinned(keep)
			m.changed() // the pinned figures moved
		}
		if len(pins) > 0 && complete {
			m.log.Info("pinned images up to date", "images", len(pins), "blobs", len(keep))
		}
		select {
		case <-ctx.Done():
			return
		case <-poke:
		case <-tick.C:
		}
	}
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
