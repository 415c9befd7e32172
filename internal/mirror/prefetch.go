package mirror

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// Ref is a parsed image reference: [registry/]repository[:tag|@digest].
type Ref struct {
	Registry string // "docker.io" when the reference names none
	Repo     string // as a client would write it, e.g. "alpine" (not "library/alpine") or "owner/app"
	Tag      string
	Digest   string
}

// ParseRef reads an image reference such as "alpine:3.20",
// "ghcr.io/owner/app:1" or "nginx@sha256:…" the way docker does
// (github.com/distribution/reference): Docker Hub's names are
// normalised, so "alpine:3.20", "library/alpine:3.20",
// "docker.io/library/alpine:3.20" and "index.docker.io/library/alpine:3.20"
// are one image, and the tag defaults to latest. On top of the library's
// grammar it keeps hubmirror's own rules: a registry is a host name with a
// "." or a port, or localhost (the library also takes an uppercase first
// component for one), and a digest is sha256 or sha512 (package oci).
func ParseRef(s string) (Ref, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Ref{}, fmt.Errorf("image %q: %w", s, err)
	}
	r := Ref{Registry: reference.Domain(named), Repo: reference.Path(named)}
	if r.Registry != dockerHub && !strings.ContainsAny(r.Registry, ".:") && r.Registry != "localhost" {
		return Ref{}, fmt.Errorf("image %q: invalid repository name %q", s, r.Registry+"/"+r.Repo)
	}
	if !validName(r.Repo) {
		return Ref{}, fmt.Errorf("image %q: invalid repository name %q", s, r.Repo)
	}
	if r.Registry == dockerHub {
		r.Repo = reference.FamiliarName(named) // "alpine", "owner/app"
	}
	if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		if err := oci.CheckDigest(d.Digest()); err != nil {
			return Ref{}, fmt.Errorf("image %q: %w", s, err)
		}
		r.Digest = d.Digest().String()
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// String writes the reference back, as short as it can be read back the
// same: Docker Hub's name is left out unless the repository's first part
// would be read as a registry ("docker.io/my.org/app").
func (r Ref) String() string {
	s := r.path()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// path is the mirror path of the repository: a registry prefix for all but
// Docker Hub, and for a Docker Hub repository whose first part looks like
// a registry (the mirror, like ParseRef, would take it for one).
func (r Ref) path() string {
	first, _, _ := strings.Cut(r.Repo, "/")
	if r.Registry == dockerHub && !strings.ContainsAny(first, ".:") && first != "localhost" {
		return r.Repo
	}
	return r.Registry + "/" + r.Repo
}

// PrefetchResult says what a prefetch fetched.
type PrefetchResult struct {
	Digests []digest.Digest // every manifest and blob of the image
	Bytes   int64           // blob bytes read
}

// Prefetch pulls ref through the mirror at base ("http://host:port") the
// way a client does, so everything lands in the mirror's cache: the
// manifest; for a multi-platform image the manifests of the platforms
// wanted ("linux/amd64"; all when none are given); and their configs and
// layers. authorization, when not empty, is sent with every request.
// progress, when not nil, is called with the blob bytes read so far and the
// total to read, as the bytes arrive (see progressStep). It is for a mirror
// that runs in another process; a Mirror fetches into its own cache
// in-process (Mirror.PrefetchImage).
func Prefetch(ctx context.Context, client *http.Client, base string, ref Ref, platforms []string, authorization string, progress func(done, total int64)) (PrefetchResult, error) {
	p := &prefetcher{client: client, base: strings.TrimSuffix(base, "/"), ref: ref, auth: authorization}
	return pullImage(ctx, p, ref, platforms, 1, progress)
}

// imageSource is what a prefetch reads an image through: a mirror's HTTP
// API (prefetcher) or the engine itself (engineSource).
type imageSource interface {
	// manifest reads the manifest that reference (a tag or a digest)
	// names, and returns what it refers to and its digest ("" when not
	// known).
	manifest(ctx context.Context, reference string) (oci.Refs, digest.Digest, error)
	// blob brings blob d into the cache, calling arrived with the length
	// of each piece as it comes, and returns once the blob is whole and
	// verified.
	blob(ctx context.Context, d digest.Digest, arrived func(n int64)) error
}

// pullImage fetches ref from src: its manifest, for an index the
// manifests of the platforms wanted (all when platforms is empty), then
// the configs and layers they name, parallel at a time. It stops at the
// first error, returning it with what was fetched until then.
func pullImage(ctx context.Context, src imageSource, ref Ref, platforms []string, parallel int, progress func(done, total int64)) (PrefetchResult, error) {
	var res PrefetchResult
	top := ref.Tag
	if ref.Digest != "" {
		top = ref.Digest
	}
	var blobs []v1.Descriptor
	var visit func(reference string, depth int) error
	visit = func(reference string, depth int) error {
		refs, d, err := src.manifest(ctx, reference)
		if err != nil {
			return err
		}
		if d != "" {
			res.Digests = append(res.Digests, d)
		}
		if depth < 2 {
			for _, child := range refs.Children {
				if !wanted(child.Platform, platforms) {
					continue
				}
				if err := oci.CheckDigest(child.Digest); err != nil {
					return fmt.Errorf("%s: manifest %s names a manifest %q: %w", ref, reference, child.Digest, err)
				}
				if err := visit(string(child.Digest), depth+1); err != nil {
					return err
				}
			}
		}
		for _, b := range refs.Blobs {
			if err := oci.CheckDigest(b.Digest); err != nil {
				return fmt.Errorf("%s: manifest %s names a blob %q: %w", ref, reference, b.Digest, err)
			}
		}
		blobs = append(blobs, refs.Blobs...)
		return nil
	}
	if err := visit(top, 0); err != nil {
		return res, err
	}
	fetched, n, err := fetchBlobs(ctx, src, blobs, parallel, progress)
	res.Digests = append(res.Digests, fetched...)
	res.Bytes = n
	return res, err
}

// fetchBlobs fetches blobs from src, at most parallel (at least one) at
// once, reporting byte progress. It returns the digests of the blobs it
// fetched, in the order given, and the bytes read; after an error it
// starts no more blobs, ends those running and returns the first error.
func fetchBlobs(ctx context.Context, src imageSource, blobs []v1.Descriptor, parallel int, progress func(done, total int64)) ([]digest.Digest, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr := &byteProgress{report: progress, reported: -1}
	for _, b := range blobs {
		pr.total += max(b.Size, 0)
	}
	done := make([]bool, len(blobs))
	var (
		mu       sync.Mutex
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	// take hands out the next blob to fetch; false once there is none, or
	// a fetch failed.
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next == len(blobs) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(max(parallel, 1), len(blobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ok := take(); ok; i, ok = take() {
				err := src.blob(ctx, blobs[i].Digest, func(n int64) { pr.add(n, false) })
				pr.add(0, true)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				done[i] = err == nil
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var fetched []digest.Digest
	for i, b := range blobs {
		if done[i] {
			fetched = append(fetched, b.Digest)
		}
	}
	return fetched, pr.done, firstErr
}

// byteProgress adds up the blob bytes a prefetch read and reports them as
// they arrive: every progressStep and at the end of each blob, so a large
// layer does not sit at 0% until it ends. Its methods are safe for
// concurrent use; reports come one at a time and never go back.
type byteProgress struct {
	report      func(done, total int64) // nil: none
	mu          sync.Mutex
	done, total int64
	reported    int64 // done at the last report; -1 before the first
}

// add counts n more bytes; blobDone says a blob just ended.
func (p *byteProgress) add(n int64, blobDone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.report != nil && p.done != p.reported && (blobDone || p.done-p.reported >= progressStep) {
		p.reported = p.done
		p.report(p.done, p.total)
	}
}

// progressStep is how many bytes arrive between two progress reports
// within a blob: often enough for a progress bar, rare enough that a
// report sent on to a window (uiremote) costs nothing next to the bytes.
const progressStep = 1 << 20

// wanted reports whether an index entry is for one of the platforms.
func wanted(p *v1.Platform, platforms []string) bool {
	if len(platforms) == 0 {
		return true
	}
	if p == nil {
		return false
	}
	name := p.OS + "/" + p.Architecture
	for _, want := range platforms {
		if want == name || want == name+"/"+p.Variant {
			return true
		}
	}
	return false
}

// prefetcher reads an image through a mirror's HTTP API, as a client.
type prefetcher struct {
	client *http.Client
	base   string
	ref    Ref
	auth   string
}

func (p *prefetcher) get(ctx context.Context, path, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/v2/"+p.ref.path()+path, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s %s", p.ref, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

// manifest reads the manifest reference names and what it refers to, with
// its digest as the mirror sent it ("" when that is no valid digest).
func (p *prefetcher) manifest(ctx context.Context, reference string) (oci.Refs, digest.Digest, error) {
	resp, err := p.get(ctx, "/manifests/"+reference, defaultAccept)
	if err != nil {
		return oci.Refs{}, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize))
	if err != nil {
		return oci.Refs{}, "", err
	}
	refs, err := oci.ManifestRefs(data)
	if err != nil {
		return oci.Refs{}, "", fmt.Errorf("%s: manifest %s is not JSON: %w", p.ref, reference, err)
	}
	d, _ := oci.ParseDigest(resp.Header.Get("Docker-Content-Digest"))
	return refs, d, nil
}

// blob reads blob d through the mirror and discards it, calling arrived
// with each piece's length as it comes, so that progress moves within a
// large layer rather than only after it.
func (p *prefetcher) blob(ctx context.Context, d digest.Digest, arrived func(n int64)) error {
	resp, err := p.get(ctx, "/blobs/"+string(d), "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(arrivals(arrived), resp.Body); err != nil {
		return fmt.Errorf("%s: blob %s: %w", p.ref, d, err)
	}
	return nil
}

// arrivals is an io.Writer that discards what it is given and reports
// each write's length.
type arrivals func(n int64)

func (a arrivals) Write(b []byte) (int, error) {
	a(int64(len(b)))
	return len(b), nil
}
