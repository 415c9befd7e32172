package mirror

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// The mirror's own fetches: pinned images (pins.go) and Mirror.Prefetch
// bring an image into the cache in-process, through the same paths a
// client's pull takes — a manifest through the cache, revalidation and
// upstream (resolveManifest), a blob through the single-flight download a
// client's GET would start or join (store.Blobs.Open with blobFetcher) —
// with the mirror's own upstream account and no session. Nothing goes
// through the listener, so nothing needs a token to pass self_auth, and
// what clients asked for (/metrics, the status) is not mixed with what the
// mirror asked for itself.

// fetchImage brings ref into the cache: its manifest; for an index the
// manifests of the platforms wanted (all when platforms is empty, as
// Prefetch); and their configs and layers, waiting for each download to
// end verified. progress, when not nil, gets the blob bytes read so far and
// the total, as they arrive. It stops at the first error, returning it with
// what was fetched until then.
func (s *server) fetchImage(ctx context.Context, ref Ref, platforms []string, progress func(done, total int64)) (PrefetchResult, error) {
	reg := s.upstreams[ref.Registry]
	if reg == nil {
		return PrefetchResult{}, fmt.Errorf("%s: %w", ref, notMirrored(ref.Registry))
	}
	if !validName(ref.Repo) {
		return PrefetchResult{}, newError(codeNameInvalid, fmt.Sprintf("invalid repository name %q", ref.Repo))
	}
	src := &engineSource{s: s, ref: ref, reg: reg, repo: repoName(ref.Registry, ref.Repo), up: reg.client.For(nil)}
	return pullImage(ctx, src, ref, platforms, s.ownParallel, progress)
}

// engineSource is an imageSource that reads one repository through the
// engine itself, with the mirror's own upstream account.
type engineSource struct {
	s    *server
	ref  Ref // for errors
	reg  *registry
	repo string           // upstream's name of the repository ("library/alpine")
	up   upstream.Session // reg's client, with the mirror's own account
}

// route is the route a client's request for reference (a tag or a
// digest) of kind ("manifest", "blob") would have been parsed into.
func (e *engineSource) route(kind, reference string) (*route, error) {
	rt := &route{kind: kind, registry: e.reg, repo: e.repo, up: e.up}
	if kind == "blob" || strings.Contains(reference, ":") {
		d, err := oci.ParseDigest(reference)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.ref, err)
		}
		rt.digest = d
		return rt, nil
	}
	if !validTag(reference) {
		return nil, fmt.Errorf("%s: invalid tag %q", e.ref, reference)
	}
	rt.tag = reference
	return rt, nil
}

// manifest gets the manifest reference names as a client's GET does, and
// what it refers to.
func (e *engineSource) manifest(ctx context.Context, reference string) (oci.Refs, digest.Digest, error) {
	rt, err := e.route("manifest", reference)
	if err != nil {
		return oci.Refs{}, "", err
	}
	a, err := e.s.resolveManifest(ctx, rt, nil, defaultAccept, false)
	e.s.changed()
	if err != nil {
		return oci.Refs{}, "", fmt.Errorf("%s: %w", e.ref, err)
	}
	refs, err := oci.ManifestRefs(a.Data)
	if err != nil {
		return oci.Refs{}, "", fmt.Errorf("%s: manifest %s is not JSON: %w", e.ref, reference, err)
	}
	return refs, a.Digest, nil
}

// blob brings blob d into the cache through the download a client's GET
// would start or join, and waits until every byte is in and verified,
// reading what arrives for progress (the last byte becomes readable only
// once the blob matched its digest). A cached blob counts whole at once.
func (e *engineSource) blob(ctx context.Context, d digest.Digest, arrived func(n int64)) error {
	rt, err := e.route("blob", string(d))
	if err != nil {
		return err
	}
	defer e.s.changed()
	br, err := e.s.blobs.Open(ctx, d, e.s.blobFetcher(rt, nil))
	if err != nil {
		return fmt.Errorf("%s: blob %s: %w", e.ref, d, err)
	}
	defer br.Close()
	if br.FromCache() {
		arrived(br.Size())
		return nil
	}
	if _, err := br.CopyTo(ctx, arrivals(arrived), 0, -1); err != nil {
		return fmt.Errorf("%s: blob %s: %w", e.ref, d, err)
	}
	return nil
}

// changed tells the mirror that figures moved, as the end of a request
// does.
func (s *server) changed() {
	if s.onChange != nil {
		s.onChange()
	}
}
