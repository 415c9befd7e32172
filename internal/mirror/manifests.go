package mirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// maxManifestSize bounds a manifest read into memory (the spec lets
// registries refuse manifests over 4 MiB).
const maxManifestSize = upstream.MaxManifestSize

// defaultAccept is sent upstream when a client sends no Accept header.
// Indexes come first: a client that names nothing gets every platform.
var defaultAccept = strings.Join([]string{
	v1.MediaTypeImageIndex,
	oci.MediaTypeDockerManifestList,
	v1.MediaTypeImageManifest,
	oci.MediaTypeDockerManifest,
}, ", ")

// cacheSource says where an answer came from, for logs and headers.
type cacheSource string

const (
	sourceNone    cacheSource = ""
	sourceHit     cacheSource = "hit"
	sourceMiss    cacheSource = "miss"
	sourceOffline cacheSource = "offline"
)

// manifestAnswer is what the client gets. Data is nil for a HEAD that was
// answered from upstream's headers alone.
type manifestAnswer struct {
	store.Manifest
	size   int64 // the Content-Length to send; -1 sends none
	source cacheSource
	// offlineReason says why upstream was not used, when source is offline.
	offlineReason error
}

// manifestRequest names one manifest a client asked for.
type manifestRequest struct {
	reg    *registry
	up     upstream.Session // reg's client, bound to the token the request acts with
	repo   string
	tag    string        // set for a tag, empty for a digest
	digest digest.Digest // set for a digest
	accept string
	head   bool
	// session is the client's, when SelfAuth is on: up acts with its
	// token, and what upstream answers decides the client's access.
	session *session
}

// manifest answers a manifest request. Digests come from the cache when
// they can; a tag is revalidated with a HEAD upstream (Docker Hub does not
// count HEADs against the pull limit) and served from the cache when its
// digest is known, or from the last cached copy when upstream fails. While
// upstream is degraded (upstream.Client.Degraded), a cached tag is served
// at once.
func (s *server) manifest(ctx context.Context, r manifestRequest) (manifestAnswer, error) {
	if r.digest != "" {
		if cm, err := s.cache.GetManifest(r.digest); err == nil {
			return manifestAnswer{Manifest: cm, size: int64(len(cm.Data)), source: sourceHit}, nil
		}
		return s.fetchManifest(ctx, r, r.digest)
	}
	if degraded, why := r.reg.client.Degraded(); degraded {
		if a, err := s.offlineManifest(r, why); err == nil {
			r.reg.client.EnsureProbe(s.ctx)
			return a, nil
		}
	}
	head, err := s.revalidate(ctx, r)
	if err != nil {
		return manifestAnswer{}, err // the client went away
	}
	if r.session != nil {
		switch head.status() {
		case http.StatusOK:
			r.session.noteAccess(r.reg.name, r.repo, true)
		case http.StatusUnauthorized, http.StatusForbidden:
			r.session.noteAccess(r.reg.name, r.repo, false)
		}
	}
	if head.err != nil {
		return s.offlineManifest(r, head.err)
	}
	d := head.m.Digest
	if d == "" {
		// No usable digest in the HEAD answer: GET by tag instead.
		a, err := s.fetchManifest(ctx, r, "")
		if err != nil {
			return s.offlineManifest(r, err)
		}
		return a, nil
	}
	if cm, err := s.cache.GetManifest(d); err == nil {
		s.noteTag(r, cm)
		return manifestAnswer{Manifest: cm, size: int64(len(cm.Data)), source: sourceHit}, nil
	}
	if r.head {
		return manifestAnswer{
			Manifest: store.Manifest{MediaType: head.m.MediaType, Digest: d},
			size:     head.m.Size,
			source:   sourceMiss,
		}, nil
	}
	a, err := s.fetchManifest(ctx, r, d)
	if err != nil {
		return s.offlineManifest(r, err)
	}
	return a, nil
}

// revalidate sends the HEAD of a tag upstream, with its own short deadline
// and shared by every request for the same tag, Accept and upstream token
// that comes while it runs. It tells the upstream client how it went, for
// the registry's health. The error is ctx's, when the client goes first.
func (s *server) revalidate(ctx context.Context, r manifestRequest) (headResult, error) {
	key := revalKey{repo: r.repo, tag: r.tag, accept: r.accept, identity: r.up.Token()}
	return r.reg.revalidations.do(ctx, key, func() headResult {
		hctx, cancel := context.WithTimeout(s.ctx, s.revalidateTimeout)
		defer cancel()
		m, err := r.up.HeadManifest(hctx, r.repo, r.tag, r.accept)
		r.reg.client.NoteRevalidation(s.ctx, err)
		return headResult{m: m, err: err}
	})
}

// manifestFetchTimeout bounds a GET of a manifest by digest, which runs
// detached from the clients waiting for it.
const manifestFetchTimeout = time.Minute

// fetchedManifest is the outcome of one shared manifest GET.
type fetchedManifest struct {
	answer manifestAnswer
	err    error
}

// fetchManifest GETs a manifest by digest (want) or, when want is empty, by
// tag; verifies it, caches it and notes the tag the client named. A HEAD by
// digest is passed through. Concurrent GETs of one digest, with the same
// Accept and upstream identity, share one upstream request: a tag that
// moved costs one GET however many clients revalidated it at once.
func (s *server) fetchManifest(ctx context.Context, r manifestRequest, want digest.Digest) (manifestAnswer, error) {
	if want == "" || r.head {
		a, err := s.getManifest(ctx, r, want)
		if err == nil && a.Data != nil {
			s.noteTag(r, a.Manifest)
		}
		return a, err
	}
	key := revalKey{repo: r.repo, tag: string(want), accept: r.accept, identity: r.up.Token()}
	res, err := r.reg.manifestFetches.do(ctx, key, func() fetchedManifest {
		fctx, cancel := context.WithTimeout(s.ctx, manifestFetchTimeout)
		defer cancel()
		a, err := s.getManifest(fctx, r, want)
		return fetchedManifest{answer: a, err: err}
	})
	if err != nil {
		return manifestAnswer{}, err // the client went away
	}
	if res.err == nil {
		s.noteTag(r, res.answer.Manifest)
	}
	return res.answer, res.err
}

// getManifest is fetchManifest's request upstream, without noting a tag:
// a HEAD for a HEAD by digest, else a GET, whose manifest is checked
// against its digest (want, or the one upstream named for a tag) and cached.
func (s *server) getManifest(ctx context.Context, r manifestRequest, want digest.Digest) (manifestAnswer, error) {
	ref := r.tag
	if want != "" {
		ref = string(want)
	}
	if r.head && r.digest != "" {
		m, err := r.up.HeadManifest(ctx, r.repo, ref, r.accept)
		if err != nil {
			return manifestAnswer{}, err
		}
		return manifestAnswer{
			Manifest: store.Manifest{MediaType: m.MediaType, Digest: want},
			size:     m.Size,
			source:   sourceMiss,
		}, nil
	}
	m, err := r.up.GetManifest(ctx, r.repo, ref, r.accept)
	if err != nil {
		return manifestAnswer{}, err
	}
	if want == "" {
		want = digest.FromBytes(m.Data)
		if m.Digest != "" {
			want = m.Digest
		}
	}
	if want.Algorithm().FromBytes(m.Data) != want {
		return manifestAnswer{}, fmt.Errorf("manifest %s@%s: %w", r.repo, ref, ErrDigestMismatch)
	}
	cm := store.Manifest{MediaType: m.MediaType, Data: m.Data, Digest: want}
	if err := s.cache.PutManifest(cm); err != nil {
		s.log.Warn("cache manifest", "digest", string(want), "err", err)
	}
	return manifestAnswer{Manifest: cm, size: int64(len(m.Data)), source: sourceMiss}, nil
}

// noteTag records what a tag points to, for serving it offline later.
func (s *server) noteTag(r manifestRequest, cm store.Manifest) {
	if r.tag == "" {
		return
	}
	if rec, err := s.cache.ReadTag(r.reg.name, r.repo, r.tag); err == nil {
		for _, e := range rec.Entries {
			if e.MediaType == cm.MediaType && e.Digest == cm.Digest {
				return
			}
		}
	}
	if err := s.cache.RecordTag(r.reg.name, r.repo, r.tag, cm); err != nil {
		s.log.Warn("record tag", "repo", r.repo, "tag", r.tag, "err", err)
	}
}

// offlineManifest serves the last cached manifest of a tag when upstream is
// unreachable, failing or rate limiting; other errors pass through.
func (s *server) offlineManifest(r manifestRequest, cause error) (manifestAnswer, error) {
	if r.tag == "" || !(errors.Is(cause, ErrUnreachable) || errors.Is(cause, ErrTooManyRequests)) {
		return manifestAnswer{}, cause
	}
	if r.session != nil {
		// Only a user upstream has already let read this repository.
		if allowed, known := r.session.mayRead(r.reg.name, r.repo); !allowed || !known {
			return manifestAnswer{}, cause
		}
	}
	rec, err := s.cache.ReadTag(r.reg.name, r.repo, r.tag)
	if err != nil {
		return manifestAnswer{}, cause
	}
	for _, e := range pickEntries(rec, r.accept) {
		if oci.CheckDigest(e.Digest) != nil {
			continue
		}
		if cm, err := s.cache.GetManifest(e.Digest); err == nil {
			return manifestAnswer{Manifest: cm, size: int64(len(cm.Data)), source: sourceOffline, offlineReason: cause}, nil
		}
	}
	return manifestAnswer{}, cause
}

// pickEntries orders a tag's entries by the client's Accept header,
// leaving out media types it does not accept. With no usable Accept, or
// "*/*", the newest entry comes first.
func pickEntries(rec store.TagRecord, accept string) []store.TagEntry {
	byNewest := rec.Newest()
	types := acceptedTypes(accept)
	if len(types) == 0 {
		return byNewest
	}
	var out []store.TagEntry
	for _, t := range types {
		if t == "*/*" {
			return byNewest
		}
		for _, e := range byNewest {
			if e.MediaType == t {
				out = append(out, e)
			}
		}
	}
	return out
}

// acceptedTypes lists the media types of an Accept header, without params.
func acceptedTypes(accept string) []string {
	var out []string
	for _, part := range strings.Split(accept, ",") {
		t, _, _ := strings.Cut(part, ";")
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
