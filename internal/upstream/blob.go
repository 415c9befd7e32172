package upstream

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
)

// BlobBody is upstream's answer to a read of a blob's bytes, said in terms
// of the blob rather than of HTTP: which byte the body starts at, where it
// ends and the blob's size.
type BlobBody struct {
	io.ReadCloser
	// Start is the byte of the blob the body begins with: the one asked
	// for, or 0 from an upstream that ignored the Range. A range that
	// starts at the blob's end gets an empty body that starts there. -1
	// when upstream's Content-Range cannot be read.
	Start int64
	// End is one past the last byte of a part of the blob (a 206's
	// Content-Range); 0 when the body runs to the blob's end.
	End int64
	// Size is the blob's size; -1 when upstream did not say.
	Size int64
}

// OpenBlob reads bytes [from, end) of repo's blob d (end -1: to the end;
// from 0 and end -1: all of it) with one GET through the registry. A
// download that asks for many ranges of one blob uses Blob instead.
func (s Session) OpenBlob(ctx context.Context, repo string, d digest.Digest, from, end int64) (BlobBody, error) {
	return s.Blob(repo, d).Open(ctx, from, end)
}

// Blob reads one blob of a repository range by range, as one download
// does. The first range goes through the registry, which on Docker Hub
// redirects to a signed CDN URL; later ranges go straight to that URL,
// with no Authorization (it is another host; the URL is the credential),
// saving a registry round trip each. When the URL is refused (401, 403,
// 404, 410: it expired) or cannot be connected to, that range goes back
// to the registry, once, for a fresh redirect. Its methods are safe for
// concurrent use: a segmented download asks for several ranges at once.
type Blob struct {
	s      Session
	repo   string
	digest digest.Digest

	mu     sync.Mutex
	direct *target // where the registry last sent a range that was answered; nil: ask the registry
}

// target is a redirect target that answered a range of the blob: a URL on
// another host than the registry's, and whether its dials must refuse
// internal addresses (as the redirect's did: checkRedirect).
type target struct {
	url   *url.URL
	guard bool
}

// Blob returns the reader of repo's blob d for one download.
func (s Session) Blob(repo string, d digest.Digest) *Blob {
	return &Blob{s: s, repo: repo, digest: d}
}

// Open reads bytes [from, end) of the blob (end -1: to its end). Upstream's
// 200, its 206 with a Content-Range, and a 416 for a range that starts at
// the end (from > 0) are answers; any other status is a *StatusError.
func (b *Blob) Open(ctx context.Context, from, end int64) (BlobBody, error) {
	if t := b.target(); t != nil {
		body, refused, err := b.openDirect(ctx, t, from, end)
		if !refused {
			return body, err
		}
		b.forget(t)
	}
	resp, last, err := b.s.c.do(ctx, request{
		kind: kindBlobGet, method: http.MethodGet, repo: b.repo, from: from, to: max(end, 0),
		path: blobPath(b.repo, b.digest), token: b.s.token,
	})
	if err != nil {
		return BlobBody{}, err
	}
	if !isBlobAnswer(resp.StatusCode, from) {
		defer drain(resp)
		return BlobBody{}, b.s.c.statusError(resp, "blob "+string(b.digest))
	}
	b.remember(last)
	return blobBody(resp), nil
}

// openDirect asks the redirect target t for the range. refused is true
// when the range is to go back to the registry: t refused it or could not
// be reached.
func (b *Blob) openDirect(ctx context.Context, t *target, from, end int64) (body BlobBody, refused bool, err error) {
	reqCtx := ctx
	if t.guard {
		reqCtx = guardDials(ctx, t.url)
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, t.url.String(), nil)
	if err != nil {
		return BlobBody{}, false, err
	}
	req.Header.Set("User-Agent", b.s.c.userAgent)
	setRange(req.Header, from, max(end, 0))
	b.s.c.stats.count(kindBlobGet)
	resp, err := b.s.c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return BlobBody{}, false, unreachable(b.s.c.registry, req, err)
		}
		return BlobBody{}, true, nil
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		drain(resp)
		return BlobBody{}, true, nil
	}
	if !isBlobAnswer(resp.StatusCode, from) {
		defer drain(resp)
		return BlobBody{}, false, b.s.c.statusError(resp, "blob "+string(b.digest))
	}
	return blobBody(resp), false, nil
}

// target returns the redirect target to ask, or nil.
func (b *Blob) target() *target {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.direct
}

// remember keeps the request that got a range's answer through the
// registry as the target of the next ranges, when it went to another host
// without Authorization: a redirect to a CDN. A registry that serves the
// blob itself (or redirects within its own host, with the token) is asked
// every time.
func (b *Blob) remember(last *http.Request) {
	if last == nil || sameOrigin(last.URL, b.s.c.base) || last.Header.Get("Authorization") != "" {
		return
	}
	_, guard := last.Context().Value(dialGuardKey{}).(*url.URL)
	b.mu.Lock()
	b.direct = &target{url: last.URL, guard: guard}
	b.mu.Unlock()
}

// forget drops t after it refused a range, unless another range already
// replaced it with a fresh one.
func (b *Blob) forget(t *target) {
	b.mu.Lock()
	if b.direct == t {
		b.direct = nil
	}
	b.mu.Unlock()
}

// isBlobAnswer reports whether status answers a blob GET from byte from:
// 200, 206, or 416 for a range that starts at (or past) the end.
func isBlobAnswer(status int, from int64) bool {
	return status == http.StatusOK || status == http.StatusPartialContent ||
		(from > 0 && status == http.StatusRequestedRangeNotSatisfiable)
}

// blobBody is what a 200, 206 or 416 answer to a blob GET says: which
// byte of the blob the body starts at, where it ends and the blob's size.
// A 416 with "Content-Range: bytes */N" says the range asked for starts
// at the end of a blob of N bytes: an empty body there. A 206 whose
// Content-Range cannot be read starts at -1, which no caller takes.
func blobBody(resp *http.Response) BlobBody {
	cr := resp.Header.Get("Content-Range")
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, last, size := parseContentRange(cr)
		end := int64(0) // to the end, when the last byte is not known
		if last >= 0 {
			end = last + 1
		}
		return BlobBody{ReadCloser: resp.Body, Start: start, Size: size, End: end}
	case http.StatusRequestedRangeNotSatisfiable:
		drain(resp)
		end := int64(-1)
		if n, ok := strings.CutPrefix(cr, "bytes */"); ok {
			end = parseBytePos(n)
		}
		return BlobBody{ReadCloser: http.NoBody, Start: end, Size: end}
	}
	return BlobBody{ReadCloser: resp.Body, Start: 0, Size: resp.ContentLength}
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
