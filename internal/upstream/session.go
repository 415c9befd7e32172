package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// MaxManifestSize bounds a manifest read into memory (the spec lets
// registries refuse manifests over 4 MiB).
const MaxManifestSize = 4 << 20

// Session is a Client bound to the upstream token one request acts with:
// a user's own (self_auth), or the mirror's account, or none. Make one per
// request with For; every call through it carries that token. Its methods
// answer non-success statuses with a *StatusError.
type Session struct {
	c     *Client
	token *UserToken
}

// For binds c to tok: the token of the user a request acts for, which is
// sent (and renewed once when refused) instead of the mirror's own; nil
// acts with the mirror's account at the registry, or anonymously.
func (c *Client) For(tok *UserToken) Session { return Session{c: c, token: tok} }

// Client returns the client s is bound from.
func (s Session) Client() *Client { return s.c }

// Token returns the user token s acts with; nil for the mirror's own.
// Requests with the same token may share an answer; others may not.
func (s Session) Token() *UserToken { return s.token }

// Manifest is upstream's answer to a manifest HEAD or GET.
type Manifest struct {
	MediaType string // its Content-Type
	// Digest is its Docker-Content-Digest; "" when upstream sent none, or
	// none that is a valid digest.
	Digest digest.Digest
	// Size is its Content-Length (of a GET: the length of Data); -1 when
	// upstream sent none, or nonsense.
	Size int64
	// Data is the manifest, as upstream sent it; nil for a HEAD. It is
	// not checked against any digest here.
	Data []byte
}

// manifestPath is the API path of repo's manifest ref (a tag or a digest).
func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }

// manifestWhat names repo's manifest ref in errors: "manifest alpine:3.20",
// "manifest alpine@sha256:…".
func manifestWhat(repo, ref string) string {
	if strings.Contains(ref, ":") {
		return "manifest " + repo + "@" + ref
	}
	return "manifest " + repo + ":" + ref
}

// HeadManifest asks for repo's manifest ref (a tag or a digest) with a
// HEAD, sending accept as the Accept header: its digest, media type and
// size, without its bytes. Docker Hub does not count HEADs against the
// pull limit.
func (s Session) HeadManifest(ctx context.Context, repo, ref, accept string) (Manifest, error) {
	resp, _, err := s.c.do(ctx, request{
		kind: kindManifestHead, method: http.MethodHead, repo: repo, accept: accept,
		path: manifestPath(repo, ref), token: s.token,
	})
	if err != nil {
		return Manifest{}, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return Manifest{}, s.c.statusError(resp, manifestWhat(repo, ref))
	}
	return Manifest{
		MediaType: resp.Header.Get("Content-Type"),
		Digest:    headerDigest(resp.Header),
		Size:      headLength(resp.Header),
	}, nil
}

// GetManifest fetches repo's manifest ref (a tag or a digest), sending
// accept as the Accept header. A manifest over MaxManifestSize is
// oci.ErrUnreachable, as is a body cut short.
func (s Session) GetManifest(ctx context.Context, repo, ref, accept string) (Manifest, error) {
	what := manifestWhat(repo, ref)
	resp, last, err := s.c.do(ctx, request{
		kind: kindManifestGet, method: http.MethodGet, repo: repo, accept: accept,
		path: manifestPath(repo, ref), token: s.token,
	})
	if err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Manifest{}, s.c.statusError(resp, what)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return Manifest{}, unreachable(s.c.registry, last, err)
	}
	if len(data) > MaxManifestSize {
		return Manifest{}, fmt.Errorf("%s: %w: larger than %d bytes", what, oci.ErrUnreachable, MaxManifestSize)
	}
	return Manifest{
		MediaType: resp.Header.Get("Content-Type"),
		Digest:    headerDigest(resp.Header),
		Size:      int64(len(data)),
		Data:      data,
	}, nil
}

// headerDigest is h's Docker-Content-Digest, or "" when it is no valid
// digest.
func headerDigest(h http.Header) digest.Digest {
	d, err := oci.ParseDigest(h.Get("Docker-Content-Digest"))
	if err != nil {
		return ""
	}
	return d
}

// headLength is the Content-Length of a HEAD answer, or -1 when upstream
// sent none (or nonsense): then the client gets none either, not a false 0.
func headLength(h http.Header) int64 {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// HeadBlob asks for the size of blob d of repo with a HEAD; -1 when
// upstream did not say.
func (s Session) HeadBlob(ctx context.Context, repo string, d digest.Digest) (int64, error) {
	resp, _, err := s.c.do(ctx, request{
		kind: kindBlobHead, method: http.MethodHead, repo: repo,
		path: blobPath(repo, d), token: s.token,
	})
	if err != nil {
		return 0, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return 0, s.c.statusError(resp, "blob "+string(d))
	}
	return resp.ContentLength, nil
}

// blobPath is the API path of repo's blob d.
func blobPath(repo string, d digest.Digest) string { return "/v2/" + repo + "/blobs/" + string(d) }

// TagList is upstream's list of a repository's tags, passed on as it is.
type TagList struct {
	io.ReadCloser        // the JSON body; the caller closes it
	ContentType   string // its Content-Type
	Link          string // its Link header: the next page, when there is one
}

// Tags asks for repo's tags, with query (n, last) as the client sent it.
func (s Session) Tags(ctx context.Context, repo string, query url.Values) (TagList, error) {
	resp, _, err := s.c.do(ctx, request{
		kind: kindTagsList, method: http.MethodGet, repo: repo, query: query,
		path: "/v2/" + repo + "/tags/list", token: s.token,
	})
	if err != nil {
		return TagList{}, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return TagList{}, s.c.statusError(resp, "tags of "+repo)
	}
	return TagList{ReadCloser: resp.Body, ContentType: resp.Header.Get("Content-Type"), Link: resp.Header.Get("Link")}, nil
}
