package store

import "sync/atomic"

// Stats are the figures the store keeps up to date as it works, for the
// mirror's status and /metrics. The mirror owns one for its whole life
// and hands it to every Open, so the counters run on across restarts.
// They are safe for concurrent use.
type Stats struct {
	UpstreamBytes atomic.Int64 // blob bytes read from upstream by downloads
	InFlight      atomic.Int64 // blob downloads from upstream running now
	CacheBytes    atomic.Int64 // bytes of blobs and manifests in the cache
	DamagedBlobs  atomic.Int64 // cached blobs found not to match their digest, and removed
}
