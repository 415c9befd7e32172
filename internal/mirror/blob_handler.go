package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/store"
)

// serveBlob answers OCI "end-2" (GET /v2/<name>/blobs/<digest>), with
// Range. Cached blobs go out with sendfile; an uncached blob streams to every
// client asking for it while one download fills the cache.
func (s *server) serveBlob(w *recorder, r *http.Request, rt *route, sess *session) error {
	if err := s.checkAccess(r, sess, rt, kindBlobHead); err != nil {
		return blobError(rt, err)
	}
	if r.Method == http.MethodHead {
		return s.headBlob(w, r, rt, sess)
	}
	br, err := s.blobs.Open(r.Context(), rt.digest, s.blobFetcher(rt, sess))
	if errors.Is(err, store.ErrCacheWrite) {
		return s.serveUncached(w, r, rt, sess)
	}
	if err != nil {
		return blobError(rt, err)
	}
	defer br.Close()
	size := br.Size()
	if br.FromCache() {
		if err := checkRange(w, r, size); err != nil {
			return err
		}
	}
	setBlobHeaders(w, rt.digest)
	if br.FromCache() {
		w.source = sourceHit
		s.countSource(sourceHit)
		w.Header().Set("X-Hubmirror-Cache", string(sourceHit))
		http.ServeContent(w, r, "", time.Time{}, br.File())
		s.stats.bytesFromCache.Add(w.bytes)
		return nil
	}
	w.source = sourceMiss
	s.countSource(sourceMiss)
	w.Header().Set("X-Hubmirror-Cache", string(sourceMiss))
	from, to, status := int64(0), size, http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && size >= 0 {
		var partial, ok bool
		if from, to, partial, ok = parseRange(rng, size); !ok {
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
			return newError(codeRangeInvalid, "range "+rng+" is outside the blob")
		}
		if partial {
			status = http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, size))
		}
	}
	if to >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(to-from, 10))
	}
	w.WriteHeader(status)
	n, err := br.CopyTo(r.Context(), w, from, to)
	if errors.Is(err, store.ErrCacheWrite) {
		// The disk filled up under the download: the rest comes straight
		// from upstream, still verified before its last byte.
		s.stats.streamedUncached()
		var more int64
		more, err = s.passThrough(r.Context(), w, rt, sess, br.File(), from+n, to)
		n += more
	}
	s.stats.bytesFromUpstream.Add(n)
	if err != nil {
		// The status line is sent: cutting the connection is the only way
		// to tell the client that the body is not whole.
		if r.Context().Err() == nil {
			s.log.Warn("blob stream cut", "name", rt.repo, "digest", string(rt.digest), "sent", n, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

// blobFetcher returns how the download of rt's blob reaches upstream: a
// GET, with "Range: bytes=from-" when from > 0 and "bytes=from-(end-1)"
// when end > 0. Each call is its own request, through the registry: a
// token or a signed CDN URL that expired during a long download is
// renewed for the next chunk.
func (s *server) blobFetcher(rt *route, sess *session) store.OpenFunc {
	return func(ctx context.Context, from, end int64) (store.Body, error) {
		resp, err := rt.registry.do(ctx, upstreamRequest{
			kind: kindBlobGet, method: http.MethodGet, repo: rt.repo, from: from, to: max(end, 0),
			path: "/v2/" + rt.repo + "/blobs/" + string(rt.digest), token: sess.token(rt.registry.registry),
		})
		if err != nil {
			return store.Body{}, err
		}
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent ||
			(from > 0 && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable) {
			if sess != nil {
				s.links.add(rt.registry.registry, rt.repo, rt.digest)
			}
			return blobBody(resp), nil
		}
		defer drain(resp)
		return store.Body{}, rt.registry.statusError(resp, "blob "+string(rt.digest))
	}
}

// blobBody is what a 200, 206 or 416 answer to a blob GET says in the
// store's terms: which byte of the blob the body starts at, where it ends
// and the blob's size. A 416 with "Content-Range: bytes */N" says the
// range asked for starts at the end of a blob of N bytes: an empty body
// there. A 206 whose Content-Range cannot be read starts at -1, which the
// store refuses.
func blobBody(resp *http.Response) store.Body {
	cr := resp.Header.Get("Content-Range")
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, last, size := parseContentRange(cr)
		end := int64(0) // to the end, when the last byte is not known
		if last >= 0 {
			end = last + 1
		}
		return store.Body{ReadCloser: resp.Body, Start: start, Size: size, End: end}
	case http.StatusRequestedRangeNotSatisfiable:
		drain(resp)
		end := int64(-1)
		if n, ok := strings.CutPrefix(cr, "bytes */"); ok {
			end = parseBytePos(n)
		}
		return store.Body{ReadCloser: http.NoBody, Start: end, Size: end}
	}
	return store.Body{ReadCloser: resp.Body, Start: 0, Size: resp.ContentLength}
}

// parseContentRange reads "bytes N-M/T" and returns N, M and T: -1 for a
// part that is missing or not a number ("*" for an unknown total), and M
// is -1 too when it is before N.
func parseContentRange(v string) (start, last, size int64) {
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return -1, -1, -1
	}
	rng, total, _ := strings.Cut(spec, "/")
	first, end, _ := strings.Cut(rng, "-")
	start, last = parseBytePos(first), parseBytePos(end)
	if last < start {
		last = -1
	}
	return start, last, parseBytePos(total)
}

// parseBytePos reads a decimal byte position; -1 for anything else.
func parseBytePos(s string) int64 {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// headBlob answers OCI "end-2" HEAD: from the cache, from a running
// download, or from upstream's HEAD.
func (s *server) headBlob(w *recorder, r *http.Request, rt *route, sess *session) error {
	setBlobHeaders(w, rt.digest)
	if br, err := s.blobs.OpenCached(rt.digest); err == nil {
		br.Close()
		w.source = sourceHit
		w.Header().Set("Content-Length", strconv.FormatInt(br.Size(), 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if size, ok := s.blobs.DownloadSize(rt.digest); ok {
		w.source = sourceMiss
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	resp, err := rt.registry.do(r.Context(), upstreamRequest{
		kind: kindBlobHead, method: http.MethodHead, repo: rt.repo, token: sess.token(rt.registry.registry),
		path: "/v2/" + rt.repo + "/blobs/" + string(rt.digest),
	})
	if err != nil {
		return blobError(rt, err)
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return blobError(rt, rt.registry.statusError(resp, "blob "+string(rt.digest)))
	}
	w.source = sourceMiss
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func setBlobHeaders(w http.ResponseWriter, d digest.Digest) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", string(d))
	h.Set("ETag", `"`+string(d)+`"`)
	h.Set("Cache-Control", "max-age=31536000")
}

// checkRange answers a Range outside a cached blob of size bytes with OCI
// error JSON, as the download path does: http.ServeContent would send a
// plain-text 416. With If-Range, ServeContent decides (it may serve the
// whole blob instead).
func checkRange(w http.ResponseWriter, r *http.Request, size int64) error {
	rng := r.Header.Get("Range")
	if rng == "" || r.Header.Get("If-Range") != "" {
		return nil
	}
	if _, _, _, ok := parseRange(rng, size); ok {
		return nil
	}
	w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	return newError(codeRangeInvalid, "range "+rng+" is outside the blob")
}

// blobError gives "not found" the blob's own error code.
func blobError(rt *route, err error) error {
	if errors.Is(err, ErrNotFound) {
		return newError(codeBlobUnknown, fmt.Sprintf("blob %s is not in %s", rt.digest, rt.repo))
	}
	return err
}

// parseRange reads one "bytes=N-", "bytes=N-M" or "bytes=-K" range of a
// blob of the given size and returns [from, to). Several ranges are not
// supported for a blob still downloading: then partial is false and the
// caller serves all of it.
func parseRange(h string, size int64) (from, to int64, partial, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	a, b, _ := strings.Cut(strings.TrimSpace(spec), "-")
	switch {
	case a == "":
		k, err := strconv.ParseInt(b, 10, 64)
		if err != nil || k <= 0 || size == 0 {
			return 0, 0, false, false
		}
		return max(size-k, 0), size, true, true
	default:
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 || n >= size {
			return 0, 0, false, false
		}
		to = size
		if b != "" {
			m, err := strconv.ParseInt(b, 10, 64)
			if err != nil || m < n {
				return 0, 0, false, false
			}
			to = min(m, size-1) + 1 // m+1 would overflow for m = MaxInt64
		}
		return n, to, true, true
	}
}
