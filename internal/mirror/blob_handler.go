package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/store"
)

// serveBlob answers OCI "end-2" (GET /v2/<name>/blobs/<digest>), with
// Range. Cached blobs go out with sendfile; an uncached blob streams to every
// client asking for it while one download fills the cache. With
// store_redirect, a GET of a blob the store behind the cache holds is sent
// there instead (redirectToStore), after the same access checks.
func (s *server) serveBlob(w *recorder, r *http.Request, rt *route, sess *session) error {
	if err := s.checkAccess(r.Context(), sess, rt); err != nil {
		return blobError(rt, err)
	}
	if r.Method == http.MethodHead {
		return s.headBlob(w, r, rt)
	}
	if u, ok := s.storeLinks.URL(r.Context(), rt.digest, storeURLTTL); ok {
		s.redirectToStore(w, rt, u)
		return nil
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

// storeURLTTL is how long the presigned URL of a redirect to the store
// is valid: long enough for a client to start the download it was sent
// to, short as the credential it is.
const storeURLTTL = 10 * time.Minute

// sourceRedirect is the cacheSource of a blob GET sent to the store.
const sourceRedirect cacheSource = "redirect"

// redirectToStore answers a blob GET, which passed every access check,
// with a 307 to u, a presigned GET URL of the blob in the store
// (store_redirect). The client reads the bytes from the store, Range and
// all. u is a credential: it goes in Location and nowhere else, not in
// the log line (which names the digest) nor a body, and the answer is
// not to be cached past u's life.
func (s *server) redirectToStore(w *recorder, rt *route, u *url.URL) {
	h := w.Header()
	h.Set("Docker-Content-Digest", string(rt.digest))
	h.Set("Location", u.String())
	h.Set("Cache-Control", "no-store")
	h.Set("X-Hubmirror-Cache", string(sourceRedirect))
	w.source = sourceRedirect
	s.stats.storeRedirects.Add(1)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// blobFetcher returns how one download of rt's blob reaches upstream:
// bytes [from, end) (end -1: to the end) through rt.up. The download's
// ranges share one upstream.Blob, so that after the first the registry's
// redirect (a signed CDN URL) is asked directly, until it expires: then a
// range goes through the registry again, which renews the token and the
// URL.
func (s *server) blobFetcher(rt *route, sess *session) store.OpenFunc {
	blob := rt.up.Blob(rt.repo, rt.digest)
	return func(ctx context.Context, from, end int64) (store.Body, error) {
		b, err := blob.Open(ctx, from, end)
		if err != nil {
			return store.Body{}, err
		}
		if sess != nil {
			s.links.add(rt.registry.name, rt.repo, rt.digest)
		}
		return store.Body{ReadCloser: b.ReadCloser, Start: b.Start, End: b.End, Size: b.Size}, nil
	}
}

// headBlob answers OCI "end-2" HEAD: from the cache, from a running
// download, or from upstream's HEAD; from the store behind the cache when
// upstream is down or fails. A HEAD is never redirected to the store.
func (s *server) headBlob(w *recorder, r *http.Request, rt *route) error {
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
	if down, _ := rt.registry.client.Degraded(); down && s.headFromStore(w, r, rt) {
		return nil
	}
	size, err := rt.up.HeadBlob(r.Context(), rt.repo, rt.digest)
	if err != nil {
		if upstreamFailed(err) && s.headFromStore(w, r, rt) {
			return nil
		}
		return blobError(rt, err)
	}
	w.source = sourceMiss
	if size >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// headFromStore answers a blob HEAD from the store behind the cache, for
// a blob the cache directory lacks while upstream cannot be asked, so
// that a mirror with an empty cache directory answers offline as for a
// cached blob. It reports false, having written nothing, when there is no
// store or it does not hold the blob.
func (s *server) headFromStore(w *recorder, r *http.Request, rt *route) bool {
	size, ok := s.blobs.StoreSize(r.Context(), rt.digest)
	if !ok {
		return false
	}
	w.source = sourceHit
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	return true
}

// upstreamFailed reports whether err says upstream could not answer
// (unreachable, 5xx, rate limited), rather than that it answered.
func upstreamFailed(err error) bool {
	return errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTooManyRequests)
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
