package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/assets"
	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/store"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// server is the mirror's http.Handler: the pull side of the OCI
// Distribution Specification, /metrics, and a short page at /.
type server struct {
	ctx       context.Context // the listener's: ends when the mirror stops
	cache     *store.Cache
	blobs     *store.Blobs
	stats     *stats
	log       *slog.Logger
	upstreams map[string]*registry // by registry name
	aliases   map[string]string    // Host name → registry
	// cacheKey is what the cache API (cacheapi.go) accepts: a random key
	// of the listener's own, which no other route accepts.
	cacheKey string
	onChange func() // called after each request and each step of the mirror's own fetches; may be nil
	access   *atomic.Pointer[accessPolicy]
	sessions *sessionStore
	links    *linkSet
	ahead    *fetchAhead // blobs fetched ahead of clients; nil fetches nothing ahead
	// ownParallel is how many blobs the mirror's own fetches (fetch.go)
	// download at once.
	ownParallel int
	// revalidateTimeout is how long a revalidation of a cached tag waits
	// for upstream before the cache answers.
	revalidateTimeout time.Duration
	// storeLinks sign the redirects of blob GETs to the store behind the
	// cache (store_redirect); nil serves every blob here.
	storeLinks *store.StoreLinks
}

// policy returns who may pull right now.
func (s *server) policy() *accessPolicy { return s.access.Load() }

// route is an API request after parsing and validation.
type route struct {
	kind     string // "base", "manifest", "blob", "tags"
	registry *registry
	repo     string // upstream repository name
	tag      string
	digest   digest.Digest
	// up is the registry's client bound to the upstream token the request
	// acts with, once it is authorized (dispatch): every request upstream
	// for it goes through up.
	up upstream.Session
}

// ServeHTTP logs one line per request and dispatches it.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		p := recover()
		status := rec.status
		if p != nil {
			status = 0 // cut off mid-body
		}
		s.stats.requests.Add(1)
		s.log.Info("request",
			"method", r.Method, "registry", rec.registry, "name", rec.name, "ref", rec.ref, "status", status, "bytes", rec.bytes,
			"cache", string(rec.source), "duration", time.Since(start).Round(time.Microsecond))
		if s.onChange != nil {
			s.onChange()
		}
		if p != nil {
			panic(p)
		}
	}()
	if err := s.dispatch(rec, r); err != nil {
		s.writeError(rec, err)
	}
}

func (s *server) dispatch(w *recorder, r *http.Request) error {
	path := r.URL.Path
	switch {
	case path == "/metrics":
		w.name = path
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.stats.writePrometheus(w)
		return nil
	case path == "/":
		w.name = path
		return s.serveLanding(w, r)
	case path == "/api/status":
		w.name = path
		return s.serveStatus(w, r)
	case path == "/favicon.png" || path == "/favicon.ico":
		w.name = path
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "max-age=86400")
		_, err := w.Write(assets.Icon)
		return err
	case strings.HasPrefix(path, cacheAPIPrefix): // `hubmirror cache` while this mirror runs: cacheapi.go
		w.name = path
		return s.serveCacheAPI(w, r)
	case path == "/v2/auth":
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return s.serveAuth(w, r)
	case path != "/v2" && !strings.HasPrefix(path, "/v2/"):
		w.name = path
		return newError(codeNameUnknown, "no such page; the registry API is under /v2/")
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return &regError{Code: codeUnsupported, Allow: "GET, HEAD",
			Message: "hubmirror is a read-only mirror: " + r.Method + " (push, delete) is not supported"}
	}
	rt, err := s.parse(r)
	w.name = "/v2/"
	if rt != nil && rt.repo != "" {
		// The registry and the tag or digest too: a ghcr.io pull and a
		// docker.io pull of the same name are told apart in the log.
		w.name, w.ref = rt.repo, rt.tag
		if rt.digest != "" {
			w.ref = string(rt.digest)
		}
		if rt.registry != nil {
			w.registry = rt.registry.name
		}
	}
	if err != nil {
		return err
	}
	sess, err := s.authorize(w, r, rt, clientName(r.URL.Path))
	if err != nil {
		return err
	}
	if rt.registry != nil {
		rt.up = rt.registry.client.For(sess.token(rt.registry.name))
	}
	switch rt.kind {
	case "base":
		// OCI "end-1": GET /v2/.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "{}")
		}
		return nil
	case "manifest":
		return s.serveManifest(w, r, rt, sess)
	case "blob":
		return s.serveBlobAhead(w, r, rt, sess)
	default:
		return s.serveTags(w, r, rt)
	}
}

// clientName is the repository name as the client wrote it ("alpine"),
// for the scope of a challenge the client will answer.
func clientName(path string) string {
	_, name, _ := splitAPIPath(strings.TrimPrefix(path, "/v2/"))
	return name
}

// splitAPIPath splits "<name>/manifests/<ref>", "<name>/blobs/<digest>",
// "<name>/blobs/uploads[/<id>]" and "<name>/tags/list". Whichever of
// "/manifests/" and "/blobs/" comes last decides, so a repository may itself
// have a part called "manifests" or "blobs", and a reference with a "/" in
// it stays a (bad) reference. kind is "" when the path is none of these.
func splitAPIPath(rest string) (kind, name, ref string) {
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return "tags", name, ""
	}
	m, b := strings.LastIndex(rest, "/manifests/"), strings.LastIndex(rest, "/blobs/")
	switch {
	case b > m:
		name, ref = rest[:b], rest[b+len("/blobs/"):]
		if ref == "uploads" || strings.HasPrefix(ref, "uploads/") {
			return "upload", name, ""
		}
		return "blob", name, ref
	case m >= 0:
		return "manifest", rest[:m], rest[m+len("/manifests/"):]
	}
	return "", rest, ""
}

// parse splits /v2/<name>/(manifests/<ref>|blobs/<digest>|tags/list) and
// validates every part before anything goes upstream.
func (s *server) parse(r *http.Request) (*route, error) {
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v2"), "/")
	if rest == "" {
		return &route{kind: "base"}, nil
	}
	var rt route
	kind, name, ref := splitAPIPath(rest)
	switch kind {
	case "upload":
		return nil, &regError{Code: codeUnsupported, Allow: "GET, HEAD",
			Message: "hubmirror is a read-only mirror: uploads are not supported"}
	case "":
		return nil, newError(codeNameUnknown, "unknown registry API path")
	}
	rt.kind = kind
	if !validName(name) {
		return nil, newError(codeNameInvalid, fmt.Sprintf("invalid repository name %q", name))
	}
	registry, name := s.registryFor(r, name)
	reg := s.upstreams[registry]
	if reg == nil {
		return nil, notMirrored(registry)
	}
	if name == "" {
		return nil, newError(codeNameInvalid, "no repository name after the registry "+registry)
	}
	rt.registry, rt.repo = reg, repoName(registry, name)
	switch {
	case rt.kind == "blob" || strings.Contains(ref, ":"):
		d, err := oci.ParseDigest(ref)
		if err != nil {
			return &rt, newError(codeDigestInvalid, err.Error())
		}
		rt.digest = d
	case rt.kind == "manifest":
		if !validTag(ref) {
			return &rt, newError(codeTagInvalid, fmt.Sprintf("invalid tag %q", ref))
		}
		rt.tag = ref
	}
	return &rt, nil
}

// notMirrored says that registry is not mirrored, and how to mirror it.
func notMirrored(registry string) error {
	return newError(codeNameUnknown,
		fmt.Sprintf("registry %q is not mirrored here; add it with --upstream %s=https://…", registry, registry))
}

// registryFor picks the registry a request is for, and the repository name
// within it: a path prefix naming a registry ("ghcr.io/owner/image"), then
// containerd's "?ns=ghcr.io", then an alias for the Host the client used,
// else Docker Hub.
func (s *server) registryFor(r *http.Request, name string) (registry, repo string) {
	if first, rest, _ := strings.Cut(name, "/"); strings.Contains(first, ".") {
		return first, rest // rest is "" for "/v2/ghcr.io/manifests/…": a 400
	}
	if ns := r.URL.Query().Get("ns"); ns != "" {
		return strings.ToLower(ns), name
	}
	// The host name without a port; a malformed port does not make the
	// name another one.
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if h, _, found := strings.Cut(host, ":"); found && !strings.HasPrefix(host, "[") {
		host = h
	}
	if reg, ok := s.aliases[strings.ToLower(host)]; ok {
		return reg, name
	}
	return dockerHub, name
}

// serveManifest answers OCI "end-3" (GET/HEAD /v2/<name>/manifests/<reference>).
func (s *server) serveManifest(w *recorder, r *http.Request, rt *route, sess *session) error {
	accept := strings.Join(r.Header.Values("Accept"), ", ")
	if strings.TrimSpace(accept) == "" {
		accept = defaultAccept
	}
	a, err := s.resolveManifest(r.Context(), rt, sess, accept, r.Method == http.MethodHead)
	if err != nil {
		return err
	}
	w.source = a.source
	s.countSource(a.source)
	if a.source == sourceOffline {
		w.Header().Set("Warning", `110 hubmirror "served from cache: upstream unavailable"`)
	}
	h := w.Header()
	h.Set("Content-Type", a.MediaType)
	h.Set("Docker-Content-Digest", string(a.Digest))
	h.Set("ETag", `"`+string(a.Digest)+`"`)
	h.Set("X-Hubmirror-Cache", string(a.source))
	if a.size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(a.size, 10))
	}
	if r.Method == http.MethodGet {
		s.fetchAheadOf(rt, sess, a) // queued before the client has the manifest
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(a.Data)
	}
	return nil
}

// resolveManifest is the manifest path that a client's request
// (serveManifest) and the mirror's own fetches (fetchImage) take alike:
// the session's access to a digest (checkAccess), then the cache,
// revalidation and upstream (manifest), and the links the session's later
// requests are checked against. sess is nil with SelfAuth off and for the
// mirror's own fetches, which act with its own upstream account.
func (s *server) resolveManifest(ctx context.Context, rt *route, sess *session, accept string, head bool) (manifestAnswer, error) {
	if rt.digest != "" {
		if err := s.checkAccess(ctx, sess, rt); err != nil {
			return manifestAnswer{}, err
		}
	}
	a, err := s.manifest(ctx, manifestRequest{
		reg: rt.registry, up: rt.up, repo: rt.repo, tag: rt.tag, digest: rt.digest,
		accept: accept, head: head, session: sess,
	})
	if err != nil {
		return manifestAnswer{}, err
	}
	if a.Data != nil && sess != nil {
		// Only sessions (SelfAuth) look links up (checkAccess).
		s.links.addManifest(rt.registry.name, rt.repo, a.Manifest)
	}
	if a.source == sourceOffline {
		s.log.Warn("upstream failed; serving the cached manifest (offline mode)",
			"name", rt.repo, "tag", rt.tag, "digest", string(a.Digest), "reason", a.offlineReason)
	}
	return a, nil
}

func (s *server) countSource(src cacheSource) {
	switch src {
	case sourceHit:
		s.stats.cacheHits.Add(1)
	case sourceMiss:
		s.stats.cacheMisses.Add(1)
	case sourceOffline:
		s.stats.cacheHits.Add(1)
		s.stats.offlineServes.Add(1)
	}
}

// serveTags answers OCI "end-8a/8b" (GET /v2/<name>/tags/list) by passing
// upstream's answer through.
func (s *server) serveTags(w *recorder, r *http.Request, rt *route) error {
	q := r.URL.Query()
	q.Del("ns")
	tags, err := rt.up.Tags(r.Context(), rt.repo, q)
	if err != nil {
		return err
	}
	defer tags.Close()
	if tags.ContentType != "" {
		w.Header().Set("Content-Type", tags.ContentType)
	}
	if tags.Link != "" {
		w.Header().Set("Link", tags.Link)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, io.LimitReader(tags, 16<<20))
	}
	return nil
}

// writeError turns any error into OCI error JSON with the spec's code.
func (s *server) writeError(w *recorder, err error) {
	var re *regError
	var se *upstream.StatusError
	switch {
	case errors.As(err, &re):
	case errors.As(err, &se) && se.Refused():
		re = refusalError(se)
	case errors.Is(err, context.Canceled):
		// 499 (nginx's "client closed request"): the client is gone and
		// reads nothing; the log line says why the request ended.
		re = &regError{Status: 499, Code: codeUnknown, Message: "request cancelled"}
	case errors.Is(err, ErrNotFound):
		re = newError(codeManifestUnknown, err.Error())
	case errors.As(err, &se) && se.Status == http.StatusTooManyRequests:
		re = &regError{Code: codeTooManyRequests, RetryAfter: se.RetryAfter,
			Message: "upstream rate limit reached and nothing cached: " + err.Error()}
	case errors.Is(err, ErrTooManyRequests):
		re = newError(codeTooManyRequests, err.Error())
	case errors.Is(err, ErrDenied):
		re = newError(codeNameUnknown,
			"upstream refused access: the repository does not exist or needs credentials ("+err.Error()+")")
	case errors.Is(err, ErrUnreachable), errors.Is(err, ErrDigestMismatch):
		re = newError(codeUnavailable, err.Error())
	default:
		re = newError(codeUnknown, err.Error())
	}
	if st := re.status(); st >= 500 || st == http.StatusTooManyRequests {
		s.log.Warn("request failed", "name", w.name, "status", st, "err", err)
	}
	re.write(w)
}

// recorder notes what a handler sent, for the request log. It passes
// ReadFrom through so that files still go out with sendfile.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	name   string
	// registry and ref (a tag or a digest) name what was asked for, in the
	// log line; "" for requests outside a repository.
	registry, ref string
	source        cacheSource
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom uses the underlying writer's ReadFrom (sendfile for files).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(r.ResponseWriter, src)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush sends what the response has buffered: a blob reader that has sent
// every byte there is calls it before it waits for more.
func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }
