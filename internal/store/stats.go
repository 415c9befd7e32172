package store

import "sync/atomic"

// Stats are the figures the store keeps up to date as it works, for the
// mirror's status and /metrics. The mirror owns one for its whole life
// and hands it to every Open, so the counters run on across restarts.
// They are safe for concurrent use.
type Stats struct {
	UpstreamBytes atomic.Int64 // blob bytes read from upstream by downloads
	InFlight      atomic.Int64 // blob downloads running now, from upstream or the store
	CacheBytes    atomic.Int64 // bytes of blobs and manifests in the cache
	DamagedBlobs  atomic.Int64 // cached blobs found not to match their digest, and removed

	// The store behind the cache (Options.Remote); all zero without one.
	RemoteHits           atomic.Int64 // blob downloads that came from the store, not upstream
	RemoteBytes          atomic.Int64 // blob bytes read from the store by downloads
	RemoteUploads        atomic.Int64 // blobs from upstream, verified, uploaded to the store
	RemoteUploadFailures atomic.Int64 // blob uploads that failed (the local copy stays)
	RemoteRecordReads    atomic.Int64 // manifests and tag records read from the store on a local miss
	RemoteRecordWrites   atomic.Int64 // manifests and tag records written through to the store
	RemoteErrors         atomic.Int64 // other store requests that failed; the cache went on without the store
	RemoteDamaged        atomic.Int64 // store objects that did not match their digest, refused and deleted

	// store_max (Options.StoreMax, storemax.go). RemoteStamps and
	// RemoteStampsDropped count with or without a bound.
	RemoteUsage         atomic.Int64 // gauge: bytes of blobs in the store, as this mirror last saw them; 0 without store_max
	RemoteEvicted       atomic.Int64 // blobs this mirror deleted from the store for store_max
	RemoteEvictedBytes  atomic.Int64 // their bytes
	RemoteFull          atomic.Int64 // uploads skipped: the store was full of blobs that may not be evicted
	RemoteStamps        atomic.Int64 // last-use stamps written on blobs in the store
	RemoteStampsDropped atomic.Int64 // stamps not written: their queue was full, or the mirror stopped
}
