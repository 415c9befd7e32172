package mirror

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

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
// total to read, as the bytes arrive (see progressStep).
func Prefetch(ctx context.Context, client *http.Client, base string, ref Ref, platforms []string, authorization string, progress func(done, total int64)) (PrefetchResult, error) {
	p := &prefetcher{ctx: ctx, client: client, base: strings.TrimSuffix(base, "/"), ref: ref, auth: authorization}
	top := ref.Tag
	if ref.Digest != "" {
		top = ref.Digest
	}
	var blobs []v1.Descriptor
	var visit func(reference string, depth int) error
	visit = func(reference string, depth int) error {
		refs, d, err := p.manifest(reference)
		if err != nil {
			return err
		}
		if d != "" {
			p.res.Digests = append(p.res.Digests, d)
		}
		if depth < 2 {
			for _, child := range refs.Children {
				if wanted(child.Platform, platforms) {
					if err := visit(string(child.Digest), depth+1); err != nil {
						return err
					}
				}
			}
		}
		blobs = append(blobs, refs.Blobs...)
		return nil
	}
	if err := visit(top, 0); err != nil {
		return p.res, err
	}
	var total int64
	for _, b := range blobs {
		total += b.Size
	}
	// Progress is reported as bytes arrive, every progressStep and at the
	// end of each blob, so a large layer does not sit at 0% until it ends.
	reported := int64(-1)
	report := func(blobDone bool) {
		if progress != nil && p.res.Bytes != reported && (blobDone || p.res.Bytes-reported >= progressStep) {
			reported = p.res.Bytes
			progress(p.res.Bytes, total)
		}
	}
	for _, b := range blobs {
		err := p.blob(b.Digest, func(n int64) {
			p.res.Bytes += n
			report(false)
		})
		report(true)
		if err != nil {
			return p.res, err
		}
		p.res.Digests = append(p.res.Digests, b.Digest)
	}
	return p.res, nil
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

type prefetcher struct {
	ctx    context.Context
	client *http.Client
	base   string
	ref    Ref
	auth   string
	res    PrefetchResult
}

func (p *prefetcher) get(path, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, p.base+"/v2/"+p.ref.path()+path, nil)
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
func (p *prefetcher) manifest(reference string) (oci.Refs, digest.Digest, error) {
	resp, err := p.get("/manifests/"+reference, defaultAccept)
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
func (p *prefetcher) blob(d digest.Digest, arrived func(n int64)) error {
	resp, err := p.get("/blobs/"+string(d), "")
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
