package fakehub

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ociError is one entry of an OCI error body.
type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// scopeDetail is the detail Docker Hub puts in an UNAUTHORIZED error.
type scopeDetail struct {
	Type   string
	Class  string
	Name   string
	Action string
}

// writeError writes an OCI error body: {"errors":[{"code":...}]}.
func writeError(w http.ResponseWriter, status int, code, message string, detail any) {
	writeJSON(w, status, map[string][]ociError{"errors": {{Code: code, Message: message, Detail: detail}}})
}

// serveRegistry implements the pull side of the OCI distribution API: the
// base endpoint, manifests, blobs and tags/list, behind bearer-token auth.
func (h *Hub) serveRegistry(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	status, tooMany, retryAfter := h.status, h.tooMany, h.retryAfter
	h.mu.Unlock()
	switch {
	case status != 0:
		writeError(w, status, "UNAVAILABLE", "service unavailable", nil)
		return
	case tooMany:
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests", nil)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "this registry is read-only", nil)
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		h.serveBase(w, r)
		return
	}
	kind, name, ref, ok := parseRoute(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "UNSUPPORTED", "unknown endpoint", nil)
		return
	}
	h.mu.Lock()
	res := h.authorize(r, name)
	h.mu.Unlock()
	if res != authOK {
		h.challenge(w, name, res)
		return
	}
	switch kind {
	case "manifests":
		h.serveManifest(w, r, name, ref)
	case "blobs":
		h.serveBlob(w, r, name, ref)
	default:
		h.serveTags(w, r, name)
	}
}

// parseRoute splits /v2/<name>/manifests/<ref>, /v2/<name>/blobs/<digest>
// and /v2/<name>/tags/list. The name may contain slashes.
func parseRoute(path string) (kind, name, ref string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", "", "", false
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok && name != "" {
		return "tags", name, "", true
	}
	for _, kind := range []string{"manifests", "blobs"} {
		i := strings.LastIndex(rest, "/"+kind+"/")
		if i <= 0 {
			continue
		}
		ref := rest[i+len(kind)+2:]
		if ref != "" && !strings.Contains(ref, "/") {
			return kind, rest[:i], ref, true
		}
	}
	return "", "", "", false
}

// challenge answers 401 with a Bearer challenge for pull on repo (none for
// the base endpoint), saying why an offered token was refused.
func (h *Hub) challenge(w http.ResponseWriter, repo string, res int) {
	v := fmt.Sprintf("Bearer realm=%q,service=%q", h.Realm(), Service)
	var detail any
	if repo != "" {
		v += fmt.Sprintf(",scope=%q", "repository:"+repo+":pull")
		detail = []scopeDetail{{Type: "repository", Name: repo, Action: "pull"}}
	}
	switch res {
	case authInvalid:
		v += `,error="invalid_token"`
	case authInsufficient:
		v += `,error="insufficient_scope"`
	}
	w.Header().Set("WWW-Authenticate", v)
	h.count(func(c *Counters) { c.Unauthorized++ })
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", detail)
}

// serveBase implements GET /v2/ (spec: "Determining support"): 200 {} for
// any valid token, 401 with a challenge otherwise.
func (h *Hub) serveBase(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	res := h.authorize(r, "")
	h.mu.Unlock()
	if res != authOK {
		h.challenge(w, "", res)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// serveManifest implements GET/HEAD /v2/<name>/manifests/<reference> (spec:
// "Pulling manifests"), with Docker Hub's rate limit on GETs and its
// fallback from an index to the linux/amd64 manifest for clients whose
// Accept does not list the index type.
func (h *Hub) serveManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	accept := acceptedTypes(r)
	get := r.Method == http.MethodGet
	h.mu.Lock()
	if get {
		h.counters.ManifestGets++
	} else {
		h.counters.ManifestHeads++
	}
	limited := get && h.remaining <= 0
	if get && !limited {
		h.remaining--
	}
	if limited {
		h.counters.RateLimited++
	}
	w.Header().Set("RateLimit-Limit", fmt.Sprintf("%d;w=21600", h.rateLimit))
	w.Header().Set("RateLimit-Remaining", fmt.Sprintf("%d;w=21600", max(h.remaining, 0)))
	w.Header().Set("Docker-RateLimit-Source", "127.0.0.1")
	digest, m := h.resolve(repo, ref)
	if m != nil && !accepts(accept, m.mediaType) {
		digest, m = m.amd64, h.manifests[m.amd64]
		if m != nil && !accepts(accept, m.mediaType) {
			m = nil
		}
	}
	corrupt, noDigest := h.corruptManifests && get, h.headNoDigest && !get
	h.mu.Unlock()
	switch {
	case limited:
		writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS",
			"You have reached your pull rate limit. https://www.docker.com/increase-rate-limit", nil)
		return
	case m == nil:
		writeError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown", nil)
		return
	}
	data := m.data
	if corrupt {
		data = bytes.Clone(data)
		data[len(data)/2] ^= 0x01
	}
	w.Header().Set("Content-Type", m.mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if !noDigest {
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("ETag", `"`+digest+`"`)
	}
	w.WriteHeader(http.StatusOK)
	if get {
		w.Write(data)
	}
}

// resolve finds the manifest a tag or digest names in repo. The caller holds
// h.mu.
func (h *Hub) resolve(repo, ref string) (string, *storedManifest) {
	rp := h.repos[repo]
	if rp == nil {
		return "", nil
	}
	digest := ref
	if !strings.Contains(ref, ":") {
		digest = rp.tags[ref]
	}
	if !rp.manifests[digest] {
		return "", nil
	}
	return digest, h.manifests[digest]
}

// acceptedTypes returns the media types r's Accept headers list, without
// parameters, or nil when r has none (anything goes).
func acceptedTypes(r *http.Request) map[string]bool {
	var set map[string]bool
	for _, line := range r.Header.Values("Accept") {
		for _, part := range strings.Split(line, ",") {
			mt, _, _ := strings.Cut(part, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if mt == "" {
				continue
			}
			if set == nil {
				set = map[string]bool{}
			}
			set[mt] = true
		}
	}
	return set
}

// accepts reports whether a client with the accepted set takes mediaType.
func accepts(set map[string]bool, mediaType string) bool {
	return set == nil || set[mediaType] || set["*/*"]
}

// validDigest reports whether d is "sha256:" and 64 lowercase hex digits.
func validDigest(d string) bool {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hexPart) != 64 {
		return false
	}
	for _, c := range hexPart {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// serveBlob implements GET/HEAD /v2/<name>/blobs/<digest> (spec: "Pulling
// blobs"): HEAD answers with the blob's size and digest, GET redirects to a
// signed CDN URL, as Docker Hub does.
func (h *Hub) serveBlob(w http.ResponseWriter, r *http.Request, repo, digest string) {
	if !validDigest(digest) {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "invalid digest", nil)
		return
	}
	h.mu.Lock()
	b := h.blobs[digest]
	if rp := h.repos[repo]; rp == nil || !(rp.blobs[digest] || h.globalBlobs[digest]) {
		b = nil
	}
	var location string
	if b != nil && r.Method == http.MethodGet {
		h.counters.BlobGets++
		location = h.sign(digest)
	} else if b != nil {
		h.counters.BlobHeads++
	}
	h.mu.Unlock()
	switch {
	case b == nil:
		writeError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry", nil)
	case location != "":
		http.Redirect(w, r, location, http.StatusTemporaryRedirect)
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(b.size, 10))
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("ETag", `"`+digest+`"`)
		w.WriteHeader(http.StatusOK)
	}
}

// tagList is the tags/list reply.
type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// serveTags implements GET /v2/<name>/tags/list (spec: "Listing tags"):
// sorted tags after the last parameter, at most n of them, with a Link
// header to the next page when n cut the list short.
func (h *Hub) serveTags(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	h.mu.Lock()
	h.counters.TagsLists++
	tags := []string{}
	if rp := h.repos[repo]; rp != nil {
		for t := range rp.tags {
			if t > q.Get("last") {
				tags = append(tags, t)
			}
		}
	}
	h.mu.Unlock()
	sort.Strings(tags)
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n >= 0 && n < len(tags) {
		tags = tags[:n]
		if n > 0 {
			next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}}
			w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, repo, next.Encode()))
		}
	}
	writeJSON(w, http.StatusOK, tagList{Name: repo, Tags: tags})
}
