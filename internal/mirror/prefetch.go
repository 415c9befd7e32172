package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Ref is a parsed image reference: [registry/]repository[:tag|@digest].
type Ref struct {
	Registry string // "docker.io" when the reference names none
	Repo     string // as the client would write it, e.g. "alpine" or "owner/app"
	Tag      string
	Digest   string
}

// ParseRef reads an image reference such as "alpine:3.20",
// "ghcr.io/owner/app:1" or "nginx@sha256:…". The tag defaults to latest.
func ParseRef(s string) (Ref, error) {
	var r Ref
	name := s
	if i := strings.Index(name, "@"); i >= 0 {
		name, r.Digest = name[:i], name[i+1:]
		if _, err := parseDigest(r.Digest); err != nil {
			return r, fmt.Errorf("image %q: %w", s, err)
		}
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, r.Tag = name[:i], name[i+1:]
		if !validTag(r.Tag) {
			return r, fmt.Errorf("image %q: invalid tag %q", s, r.Tag)
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	r.Registry = dockerHub
	if first, rest, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, name = first, rest
	}
	if !validName(name) {
		return r, fmt.Errorf("image %q: invalid repository name %q", s, name)
	}
	r.Repo = name
	return r, nil
}

// String writes the reference back.
func (r Ref) String() string {
	s := r.Repo
	if r.Registry != dockerHub {
		s = r.Registry + "/" + s
	}
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// path is the mirror path of the repository: a registry prefix for all but
// Docker Hub.
func (r Ref) path() string {
	if r.Registry == dockerHub {
		return r.Repo
	}
	return r.Registry + "/" + r.Repo
}

// PrefetchResult says what a prefetch fetched.
type PrefetchResult struct {
	Digests []string // every manifest and blob of the image
	Bytes   int64    // blob bytes read
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
	var blobs []descriptor
	var visit func(reference string, depth int) error
	visit = func(reference string, depth int) error {
		m, d, err := p.manifest(reference)
		if err != nil {
			return err
		}
		p.res.Digests = append(p.res.Digests, d)
		if depth < 2 {
			for _, child := range m.Manifests {
				if wanted(child.Platform, platforms) {
					if err := visit(child.Digest, depth+1); err != nil {
						return err
					}
				}
			}
		}
		if m.Config.Digest != "" {
			blobs = append(blobs, m.Config)
		}
		blobs = append(blobs, m.Layers...)
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

type descriptor struct {
	Digest   string    `json:"digest"`
	Size     int64     `json:"size"`
	Platform *platform `json:"platform"`
}

type platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
}

type manifestDoc struct {
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
}

// wanted reports whether an index entry is for one of the platforms.
func wanted(p *platform, platforms []string) bool {
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

func (p *prefetcher) manifest(reference string) (manifestDoc, string, error) {
	var m manifestDoc
	resp, err := p.get("/manifests/"+reference, defaultAccept)
	if err != nil {
		return m, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize))
	if err != nil {
		return m, "", err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, "", fmt.Errorf("%s: manifest %s is not JSON: %w", p.ref, reference, err)
	}
	return m, resp.Header.Get("Docker-Content-Digest"), nil
}

// blob reads blob d through the mirror and discards it, calling arrived
// with each piece's length as it comes, so that progress moves within a
// large layer rather than only after it.
func (p *prefetcher) blob(d string, arrived func(n int64)) error {
	resp, err := p.get("/blobs/"+d, "")
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
