package fakehub

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// CDNURLTTL is how long a signed CDN URL stays valid on the hub's clock.
const CDNURLTTL = 20 * time.Minute

// signedURL is what a CDN URL signature grants.
type signedURL struct {
	digest  string
	expires int64 // unix seconds
}

// sign returns a fresh signed CDN URL for digest. The caller holds h.mu.
func (h *Hub) sign(digest string) string {
	exp := h.now().Add(CDNURLTTL).Unix()
	sig := rand.Text()
	h.signatures[sig] = signedURL{digest: digest, expires: exp}
	return fmt.Sprintf("%s/blobs/%s?expires=%d&signature=%s", h.CDN.URL, digest, exp, sig)
}

// writeS3Error writes an S3-style XML error, as the CDN's backend does.
func writeS3Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>\n", code, message)
}

// serveCDN serves GET/HEAD /blobs/<digest>?expires=...&signature=... for
// signatures the registry issued. Like an S3-style backend it refuses any
// request carrying Authorization, since the URL itself is the credential.
func (h *Hub) serveCDN(w http.ResponseWriter, r *http.Request) {
	digest, ok := strings.CutPrefix(r.URL.Path, "/blobs/")
	if !ok || digest == "" || strings.Contains(digest, "/") {
		writeS3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeS3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	h.mu.Lock()
	down, status := h.cdnDown, h.cdnStatus
	h.mu.Unlock()
	switch {
	case down:
		hangUp(w)
		return
	case status == http.StatusForbidden:
		writeS3Error(w, status, "AccessDenied", "Request has expired or the signature does not match")
		return
	case status != 0:
		writeS3Error(w, status, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	if _, ok := r.Header["Authorization"]; ok {
		h.count(func(c *Counters) { c.CDNAuthRejected++ })
		writeS3Error(w, http.StatusBadRequest, "InvalidArgument",
			"Only one auth mechanism allowed; only the signature query parameter or the Authorization header should be specified")
		return
	}
	q := r.URL.Query()
	h.mu.Lock()
	s, ok := h.signatures[q.Get("signature")]
	b := h.blobs[digest]
	if !ok || s.digest != digest || q.Get("expires") != strconv.FormatInt(s.expires, 10) || h.now().Unix() >= s.expires || b == nil {
		h.counters.CDNForbidden++
		h.mu.Unlock()
		writeS3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired or the signature does not match")
		return
	}
	rangeOn := h.cdnRange
	cw := &cdnWriter{ResponseWriter: w, h: h, ctx: r.Context(), dropAt: -1, rate: h.cdnRate, start: time.Now(),
		digest: digest, noLength: h.cdnNoLength}
	var shift int64
	if r.Method == http.MethodGet {
		h.counters.CDNGets++
		h.counters.BlobGetsByDigest[digest]++
		cw.dropAt, cw.pause = h.takeFaults(digest)
		if rng := r.Header.Get("Range"); rng != "" {
			h.counters.CDNRangeGets++
			if rangeOn && h.takeIgnoreRange(rangeStart(rng, b.size)) {
				rangeOn = false
			}
			if rangeOn {
				shift = h.takeRangeShift()
			}
		}
	}
	corruptAt, corrupt := h.corrupt[digest]
	h.mu.Unlock()

	body, err := b.open()
	if err != nil {
		writeS3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	defer body.Close()
	if corrupt {
		body = &corruptReader{ReadSeekCloser: body, at: corruptAt}
	}
	etag := `"` + digest + `"`
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", etag)
	if !rangeOn {
		if !cw.noLength {
			w.Header().Set("Content-Length", strconv.FormatInt(b.size, 10))
		}
		if cw.pause != nil {
			cw.pauseAt = cw.pause.at // the whole blob, whatever was asked
		}
		cw.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			io.CopyN(cw, body, b.size)
			cw.finish()
		}
		return
	}
	if shift != 0 {
		serveShifted(cw, body, rangeStart(r.Header.Get("Range"), b.size)+shift, b.size)
		return
	}
	if cw.pause != nil {
		start := rangeStart(r.Header.Get("Range"), b.size)
		if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
			start = 0
		}
		cw.pauseAt = max(cw.pause.at-start, 0)
	}
	http.ServeContent(cw, r, "", time.Time{}, body)
	cw.finish()
}

// serveShifted answers 206 with the blob's bytes from start (clamped to
// the blob) to its end, whatever range was asked for (see ShiftRange).
func serveShifted(cw *cdnWriter, body io.ReadSeeker, start, size int64) {
	start = min(max(start, 0), max(size-1, 0))
	cw.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, size-1, size))
	cw.Header().Set("Content-Length", strconv.FormatInt(size-start, 10))
	cw.WriteHeader(http.StatusPartialContent)
	if _, err := body.Seek(start, io.SeekStart); err == nil {
		io.Copy(writerOnly{cw}, body)
	}
	cw.finish()
}

// open returns the blob's bytes.
func (b *storedBlob) open() (io.ReadSeekCloser, error) {
	if b.data != nil {
		return nopCloser{bytes.NewReader(b.data)}, nil
	}
	return os.Open(b.path)
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// rangeStart returns the first byte offset a Range header asks for, 0 if it
// asks for none or cannot be parsed.
func rangeStart(header string, size int64) int64 {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return 0
	}
	first, _, _ := strings.Cut(spec, ",")
	from, to, ok := strings.Cut(strings.TrimSpace(first), "-")
	if !ok {
		return 0
	}
	if from == "" {
		n, err := strconv.ParseInt(to, 10, 64)
		if err != nil {
			return 0
		}
		return max(size-n, 0)
	}
	n, err := strconv.ParseInt(from, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// cdnWriter counts the blob bytes the CDN writes and carries out
// DropBlobAfter and PauseBlob. Without a fault pending it passes ReadFrom
// through, so a file-backed blob goes out with sendfile.
type cdnWriter struct {
	http.ResponseWriter
	h       *Hub
	ctx     context.Context
	status  int
	written int64
	dropAt  int64 // cut the connection after this many body bytes; -1 never
	pause   *pause
	pauseAt int64 // body offset at which to pause
	rate    int64 // bytes per second; 0 is unlimited
	start   time.Time
	digest  string // the blob, for CDNBytesByDigest
	// noLength drops Content-Length from the answer (OmitCDNLength).
	noLength bool
}

// paceChunk is how many bytes a bandwidth-limited response writes at once.
const paceChunk = 64 << 10

// pace sleeps until the bytes written so far are due at the set rate.
func (c *cdnWriter) pace() {
	due := c.start.Add(time.Duration(float64(c.written) / float64(c.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		select {
		case <-time.After(d):
		case <-c.ctx.Done():
		}
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (c *cdnWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// WriteHeader records the status: only 200 and 206 bodies are blob bytes.
// It drops Content-Length from a blob answer when OmitCDNLength is on.
func (c *cdnWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	noLength := c.noLength && (code == http.StatusOK || code == http.StatusPartialContent)
	if noLength {
		c.Header().Del("Content-Length")
	}
	c.ResponseWriter.WriteHeader(code)
	if noLength {
		// Sent now, the header cannot get the length net/http would work
		// out for a short body.
		http.NewResponseController(c.ResponseWriter).Flush()
	}
}

func (c *cdnWriter) isBlob() bool {
	return c.status == 0 || c.status == http.StatusOK || c.status == http.StatusPartialContent
}

// addBytes counts n more body bytes. Bytes are counted before they are
// written, so a client that has read them sees them counted.
func (c *cdnWriter) addBytes(n int64) {
	if n == 0 {
		return
	}
	c.h.count(func(k *Counters) {
		k.CDNBytes += n
		addTo(&k.CDNBytesByDigest, c.digest, n)
	})
}

// Write writes p, stopping at the pause offset to wait and at the drop
// limit to cut the connection.
func (c *cdnWriter) Write(p []byte) (int, error) {
	if !c.isBlob() {
		return c.ResponseWriter.Write(p)
	}
	total := 0
	for len(p) > 0 {
		chunk := p
		if c.pause != nil {
			if c.written >= c.pauseAt {
				c.wait()
				continue
			}
			chunk = chunk[:min(int64(len(chunk)), c.pauseAt-c.written)]
		}
		if c.dropAt >= 0 {
			if c.written >= c.dropAt {
				c.cut()
			}
			chunk = chunk[:min(int64(len(chunk)), c.dropAt-c.written)]
		}
		if c.rate > 0 {
			chunk = chunk[:min(len(chunk), paceChunk)]
		}
		c.addBytes(int64(len(chunk)))
		n, err := c.ResponseWriter.Write(chunk)
		c.addBytes(int64(n - len(chunk)))
		c.written += int64(n)
		total += n
		if err != nil {
			return total, err
		}
		if c.rate > 0 {
			c.pace()
		}
		p = p[n:]
	}
	return total, nil
}

// writerOnly hides ReadFrom so io.Copy goes through Write.
type writerOnly struct{ io.Writer }

// ReadFrom copies r to the response, with the underlying ReadFrom (sendfile
// for a file) when no fault is pending.
func (c *cdnWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.ResponseWriter.(io.ReaderFrom)
	if !ok || c.pause != nil || c.dropAt >= 0 || c.rate > 0 || !c.isBlob() {
		return io.Copy(writerOnly{c}, r)
	}
	var expect int64
	if lr, ok := r.(*io.LimitedReader); ok {
		expect = lr.N
		c.addBytes(expect)
	}
	n, err := rf.ReadFrom(r)
	c.addBytes(n - expect)
	c.written += n
	return n, err
}

// wait flushes what was written, signals the pause and blocks until it is
// released, the client goes away or the hub closes.
func (c *cdnWriter) wait() {
	p := c.pause
	c.pause = nil
	http.NewResponseController(c.ResponseWriter).Flush()
	p.reach()
	select {
	case <-p.released:
	case <-c.ctx.Done():
	case <-c.h.closed:
	}
}

// cut flushes what was written and aborts the response, closing the
// connection mid-body.
func (c *cdnWriter) cut() {
	http.NewResponseController(c.ResponseWriter).Flush()
	panic(http.ErrAbortHandler)
}

// finish carries out a pause set at or past the end of the body.
func (c *cdnWriter) finish() {
	if c.pause != nil && c.isBlob() {
		c.wait()
	}
}

// corruptReader is a blob's bytes with the byte at offset at changed (see
// CorruptBlob).
type corruptReader struct {
	io.ReadSeekCloser
	pos int64 // offset of the next byte Read returns
	at  int64
}

func (c *corruptReader) Read(p []byte) (int, error) {
	n, err := c.ReadSeekCloser.Read(p)
	if i := c.at - c.pos; i >= 0 && i < int64(n) {
		p[i] ^= 0x01
	}
	c.pos += int64(n)
	return n, err
}

func (c *corruptReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := c.ReadSeekCloser.Seek(offset, whence)
	if err == nil {
		c.pos = pos
	}
	return pos, err
}
