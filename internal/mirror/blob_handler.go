package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	br, err := s.blobs.open(r.Context(), rt.digest, s.blobFetcher(rt, sess))
	if errors.Is(err, errCacheWrite) {
		return s.serveUncached(w, r, rt, sess)
	}
	if err != nil {
		return blobError(rt, err)
	}
	defer br.Close()
	if br.fromCache() {
		if err := checkRange(w, r, br.size); err != nil {
			return err
		}
	}
	setBlobHeaders(w, rt.digest)
	if br.fromCache() {
		w.source = sourceHit
		s.countSource(sourceHit)
		w.Header().Set("X-Hubmirror-Cache", string(sourceHit))
		http.ServeContent(w, r, "", time.Time{}, br.file)
		s.stats.bytesFromCache.Add(w.bytes)
		return nil
	}
	w.source = sourceMiss
	s.countSource(sourceMiss)
	w.Header().Set("X-Hubmirror-Cache", string(sourceMiss))
	from, to, status := int64(0), br.size, http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && br.size >= 0 {
		var partial, ok bool
		if from, to, partial, ok = parseRange(rng, br.size); !ok {
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(br.size, 10))
			return newError(codeRangeInvalid, "range "+rng+" is outside the blob")
		}
		if partial {
			status = http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to-1, br.size))
		}
	}
	if to >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(to-from, 10))
	}
	w.WriteHeader(status)
	n, err := br.dl.copyTo(r.Context(), w, br.file, from, to)
	if errors.Is(err, errCacheWrite) {
		// The disk filled up under the download: the rest comes straight
		// from upstream, still verified before its last byte.
		s.stats.streamedUncached()
		var more int64
		more, err = s.passThrough(r.Context(), w, rt, sess, br.file, from+n, to)
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

// blobFetcher returns how the download of rt's blob reaches upstream.
func (s *server) blobFetcher(rt *route, sess *session) openFunc {
	return func(ctx context.Context, from int64) (*http.Response, error) {
		resp, err := rt.registry.do(ctx, upstreamRequest{
			kind: kindBlobGet, method: http.MethodGet, repo: rt.repo, from: from,
			path: "/v2/" + rt.repo + "/blobs/" + string(rt.digest), token: sess.token(rt.registry.registry),
		})
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent ||
			(from > 0 && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable) {
			if sess != nil {
				s.links.add(rt.registry.registry, rt.repo, rt.digest)
			}
			return resp, nil
		}
		defer drain(resp)
		return nil, rt.registry.statusError(resp, "blob "+string(rt.digest))
	}
}

// headBlob answers OCI "end-2" HEAD: from the cache, from a running
// download, or from upstream's HEAD.
func (s *server) headBlob(w *recorder, r *http.Request, rt *route, sess *session) error {
	setBlobHeaders(w, rt.digest)
	if br, err := s.blobs.openCached(rt.digest); err == nil {
		br.Close()
		w.source = sourceHit
		w.Header().Set("Content-Length", strconv.FormatInt(br.size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if dl := s.blobs.inFlight(rt.digest); dl != nil {
		select {
		case <-dl.ready:
			if dl.startErr == nil && dl.size >= 0 {
				w.source = sourceMiss
				w.Header().Set("Content-Length", strconv.FormatInt(dl.size, 10))
				w.WriteHeader(http.StatusOK)
				return nil
			}
		default:
		}
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

func setBlobHeaders(w http.ResponseWriter, d digest) {
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
