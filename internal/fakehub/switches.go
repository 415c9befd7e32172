package fakehub

import "sync"

// DefaultRateLimit is the number of manifest GETs allowed until
// SetRateLimit changes it.
const DefaultRateLimit = 100

// faults holds the switches tests flip. Its fields are guarded by Hub.mu.
type faults struct {
	rateLimit  int
	remaining  int
	tooMany    bool
	retryAfter int
	status     int
	cdnRange   bool
	cdnRate    int64 // bytes per second per CDN response; 0 is unlimited
	dropAfter  int64 // body bytes sent before a cut
	dropTimes  int   // CDN GETs still to cut
	pauses     map[string][]*pause

	corruptManifests bool  // manifest GETs send bytes that differ from the digest
	headNoDigest     bool  // manifest HEADs omit Docker-Content-Digest
	rangeShift       int64 // added to the start of a CDN Range answer
	rangeShiftTimes  int   // CDN Range GETs still to shift
	cdnStatus        int   // every CDN request answers this; 0 is off
	cdnDown          bool  // the CDN closes every connection unanswered

	cdnNoLength      bool             // CDN blob answers omit Content-Length
	ignoreRangeFrom  int64            // Range GETs from this byte on may answer 200
	ignoreRangeTimes int              // such GETs still to answer 200
	corrupt          map[string]int64 // digest -> offset of the byte the CDN flips
}

func newFaults() faults {
	return faults{
		rateLimit: DefaultRateLimit,
		remaining: DefaultRateLimit,
		cdnRange:  true,
		pauses:    map[string][]*pause{},
		corrupt:   map[string]int64{},
	}
}

// pause holds one CDN GET of a blob at an offset until released.
type pause struct {
	at          int64
	reached     chan struct{}
	reachedOnce sync.Once
	released    chan struct{}
	releaseOnce sync.Once
}

// reach signals that the paused GET got to its offset.
func (p *pause) reach() { p.reachedOnce.Do(func() { close(p.reached) }) }

// release lets the paused GET go on; it may be called any number of times.
func (p *pause) release() { p.releaseOnce.Do(func() { close(p.released) }) }

// SetRateLimit sets the number of manifest GETs allowed before the registry
// answers 429 TOOMANYREQUESTS, and restores all of them.
func (h *Hub) SetRateLimit(limit int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rateLimit, h.remaining = limit, limit
}

// SetTooManyRequests makes every registry request answer 429
// TOOMANYREQUESTS with Retry-After: retryAfter (omitted when 0), until
// turned off.
func (h *Hub) SetTooManyRequests(on bool, retryAfter int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tooMany, h.retryAfter = on, retryAfter
}

// SetStatus makes every registry request answer code with an UNAVAILABLE
// error body; 0 turns it off. It takes precedence over SetTooManyRequests.
func (h *Hub) SetStatus(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status = code
}

// SetDown makes all three servers close every connection without answering,
// like an unreachable host, until turned off. Requests still reach the log.
func (h *Hub) SetDown(on bool) { h.down.Store(on) }

// SetCDNRange turns Range support on the CDN on (the default) or off; when
// off the CDN answers every GET 200 with the whole blob.
func (h *Hub) SetCDNRange(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cdnRange = on
}

// SetCDNBandwidth paces every CDN blob response to bytesPerSecond, like a
// download over a real network link; 0 (the default) means no limit.
func (h *Hub) SetCDNBandwidth(bytesPerSecond int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cdnRate = max(bytesPerSecond, 0)
}

// DropBlobAfter makes the next times CDN blob GETs send correct headers and
// n body bytes, then cut the connection, so the client reads
// io.ErrUnexpectedEOF. A GET whose body is n bytes or shorter completes.
func (h *Hub) DropBlobAfter(n int64, times int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropAfter, h.dropTimes = n, times
}

// PauseBlob holds the next CDN GET of digest once it has written the blob's
// bytes up to offset at: it flushes them, closes reached and blocks until
// release is called, the client goes away or the hub is closed. release may
// be called any number of times. Several pauses of one digest apply to
// successive GETs.
func (h *Hub) PauseBlob(digest string, at int64) (reached <-chan struct{}, release func()) {
	p := &pause{at: at, reached: make(chan struct{}), released: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pauses[digest] = append(h.pauses[digest], p)
	return p.reached, p.release
}

// takeFaults returns the drop limit (-1 for none) and pause (nil for none)
// for a CDN GET of digest, using them up. The caller holds h.mu.
func (h *Hub) takeFaults(digest string) (dropAt int64, p *pause) {
	dropAt = -1
	if h.dropTimes > 0 {
		h.dropTimes--
		dropAt = max(h.dropAfter, 0)
	}
	if q := h.pauses[digest]; len(q) > 0 {
		p = q[0]
		if len(q) == 1 {
			delete(h.pauses, digest)
		} else {
			h.pauses[digest] = q[1:]
		}
	}
	return dropAt, p
}

// CorruptManifests makes every manifest GET send bytes that differ from the
// manifest (one byte changed, same length) while Docker-Content-Digest
// still names the real digest, like a registry or proxy that damages
// content; HEADs stay correct. false turns it off.
func (h *Hub) CorruptManifests(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.corruptManifests = on
}

// OmitHeadDigest makes manifest HEADs answer without Docker-Content-Digest
// (GETs still send it), so a client has to GET a tag to learn its digest.
func (h *Hub) OmitHeadDigest(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.headNoDigest = on
}

// ShiftRange makes the next times CDN GETs with a Range header answer 206
// with a Content-Range that starts by bytes later (negative: earlier) than
// the range asked for, clamped to the blob, and the blob's bytes from that
// start: a broken cache or CDN node that answers another range than asked.
func (h *Hub) ShiftRange(by int64, times int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rangeShift, h.rangeShiftTimes = by, times
}

// SetCDNStatus makes every CDN request answer code with an S3-style error
// body (403 AccessDenied, 500 InternalError, …); 0 turns it off.
func (h *Hub) SetCDNStatus(code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cdnStatus = code
}

// SetCDNDown makes the CDN alone close every connection without answering,
// until turned off; the registry still answers and redirects to it.
func (h *Hub) SetCDNDown(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cdnDown = on
}

// takeRangeShift returns the shift for a CDN Range GET, using one up; 0 for
// none. The caller holds h.mu.
func (h *Hub) takeRangeShift() int64 {
	if h.rangeShiftTimes <= 0 || h.rangeShift == 0 {
		return 0
	}
	h.rangeShiftTimes--
	return h.rangeShift
}

// OmitCDNLength makes CDN blob answers (200 and 206) go without
// Content-Length, in chunked encoding, like an upstream that does not say
// how long a body is; a 206 still names the size in its Content-Range.
// false turns it off.
func (h *Hub) OmitCDNLength(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cdnNoLength = on
}

// IgnoreRange makes the next times CDN GETs whose Range starts at byte from
// or later answer 200 with the whole blob, like a CDN node that does not
// support Range; GETs from earlier bytes still get 206. IgnoreRange(1, n)
// leaves the first request of a download alone and refuses the ranges of
// the next n chunks or resumes. times 0 turns it off.
func (h *Hub) IgnoreRange(from int64, times int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ignoreRangeFrom, h.ignoreRangeTimes = from, max(times, 0)
}

// CorruptBlob makes every CDN GET of digest send the byte at offset at
// changed (same length), while the digest and the registry's answers stay
// as they were: a damaged copy on the CDN. A negative at turns it off.
func (h *Hub) CorruptBlob(digest string, at int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if at < 0 {
		delete(h.corrupt, digest)
		return
	}
	h.corrupt[digest] = at
}

// takeIgnoreRange reports whether a CDN GET with a Range header starting at
// start answers 200 (see IgnoreRange), using one up. The caller holds h.mu.
func (h *Hub) takeIgnoreRange(start int64) bool {
	if h.ignoreRangeTimes <= 0 || start < h.ignoreRangeFrom {
		return false
	}
	h.ignoreRangeTimes--
	return true
}
