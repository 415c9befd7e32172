package fakehub_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

type manifestDoc struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		MediaType, Digest string
		Size              int64
	} `json:"config"`
	Layers []struct {
		MediaType, Digest string
		Size              int64
	} `json:"layers"`
	Manifests []struct {
		MediaType, Digest string
		Platform          struct{ OS, Architecture, Variant string }
	} `json:"manifests"`
}

func gunzipDigest(t *testing.T, layer []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return sha(raw)
}

// TestPull walks a client through the whole token dance and pull of an
// image, checking every header and digest on the way.
func TestPull(t *testing.T) {
	l1 := fakehub.Layer(map[string]string{"etc/os-release": "fake"})
	l2 := fakehub.Layer(map[string]string{"bin/sh": "#!", "bin/ls": "ls"})
	notGzip := []byte("plain bytes, not gzip")
	tests := []struct {
		name       string
		add        func(t *testing.T, h *fakehub.Hub) fakehub.Image
		wantType   string
		wantLayer  string
		wantDiffID func(t *testing.T, i int, img fakehub.Image) string
	}{{
		name: "schema2",
		add: func(_ *testing.T, h *fakehub.Hub) fakehub.Image {
			return h.AddImage("library/alpine", "3.19", l1, l2, notGzip)
		},
		wantType:  fakehub.MediaTypeDockerManifest,
		wantLayer: fakehub.MediaTypeDockerLayer,
		wantDiffID: func(t *testing.T, i int, _ fakehub.Image) string {
			if i == 2 {
				return sha(notGzip)
			}
			return gunzipDigest(t, [][]byte{l1, l2}[i])
		},
	}, {
		name:       "oci",
		add:        func(_ *testing.T, h *fakehub.Hub) fakehub.Image { return h.AddOCIImage("library/alpine", "3.19", l1) },
		wantType:   fakehub.MediaTypeOCIManifest,
		wantLayer:  fakehub.MediaTypeOCILayer,
		wantDiffID: func(t *testing.T, _ int, _ fakehub.Image) string { return gunzipDigest(t, l1) },
	}, {
		name: "file-backed blob",
		add: func(t *testing.T, h *fakehub.Hub) fakehub.Image {
			path := filepath.Join(t.TempDir(), "big")
			if err := os.WriteFile(path, pattern(1<<20), 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := h.AddBlobFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return h.AddImageWithBlobs("library/big", "v1", b)
		},
		wantType:   fakehub.MediaTypeDockerManifest,
		wantLayer:  fakehub.MediaTypeDockerLayer,
		wantDiffID: func(_ *testing.T, i int, img fakehub.Image) string { return img.Layers[i].Digest },
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			img := tc.add(t, h)

			base := send(t, http.DefaultClient, http.MethodGet, h.URL()+"/v2/")
			if base.status != http.StatusUnauthorized || base.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
				t.Fatalf("GET /v2/ anonymous: %d %v", base.status, base.header)
			}
			ch := challengeParams(t, base.header.Get("WWW-Authenticate"))
			if ch["realm"] != h.Auth.URL+"/token" || ch["service"] != fakehub.Service || ch["scope"] != "" {
				t.Fatalf("base challenge = %v", ch)
			}
			m := send(t, http.DefaultClient, http.MethodGet, manifestURL(h, img.Repo, img.Tag))
			scope := challengeParams(t, m.header.Get("WWW-Authenticate"))["scope"]
			if m.status != http.StatusUnauthorized || scope != "repository:"+img.Repo+":pull" || errorCode(t, m) != "UNAUTHORIZED" {
				t.Fatalf("manifest anonymous: %d, scope %q", m.status, scope)
			}

			status, tok := requestToken(t, h, "", "", url.Values{"service": {ch["service"]}, "scope": {scope}})
			if status != http.StatusOK || tok.Token == "" || tok.AccessToken != tok.Token || tok.ExpiresIn != 300 {
				t.Fatalf("token: %d %+v", status, tok)
			}
			if _, err := time.Parse(time.RFC3339, tok.IssuedAt); err != nil {
				t.Errorf("issued_at: %v", err)
			}
			auth := "Bearer " + tok.Token
			if r := send(t, http.DefaultClient, http.MethodGet, h.URL()+"/v2/", "Authorization", auth); r.status != http.StatusOK || string(r.body) != "{}" {
				t.Fatalf("GET /v2/ with token: %d %q", r.status, r.body)
			}

			m = send(t, http.DefaultClient, http.MethodGet, manifestURL(h, img.Repo, img.Tag), "Authorization", auth)
			if m.status != http.StatusOK || !bytes.Equal(m.body, img.Manifest) {
				t.Fatalf("manifest: %d %q", m.status, m.body)
			}
			if got := m.header.Get("Content-Type"); got != tc.wantType || img.MediaType != tc.wantType {
				t.Errorf("Content-Type = %q, Image.MediaType = %q, want %q", got, img.MediaType, tc.wantType)
			}
			if d := m.header.Get("Docker-Content-Digest"); d != sha(m.body) || d != img.Digest {
				t.Errorf("Docker-Content-Digest = %q, body hashes to %q, Image.Digest %q", d, sha(m.body), img.Digest)
			}
			if m.header.Get("Content-Length") != strconv.Itoa(len(m.body)) {
				t.Errorf("Content-Length = %q for %d bytes", m.header.Get("Content-Length"), len(m.body))
			}

			var doc manifestDoc
			if err := json.Unmarshal(m.body, &doc); err != nil {
				t.Fatal(err)
			}
			blobs := map[string]int64{doc.Config.Digest: doc.Config.Size}
			var total int64 = doc.Config.Size
			for _, l := range doc.Layers {
				if l.MediaType != tc.wantLayer {
					t.Errorf("layer media type %q, want %q", l.MediaType, tc.wantLayer)
				}
				blobs[l.Digest] = l.Size
				total += l.Size
			}
			bodies := map[string][]byte{}
			for digest, size := range blobs {
				head := send(t, http.DefaultClient, http.MethodHead, blobURL(h, img.Repo, digest), "Authorization", auth)
				if head.status != http.StatusOK || head.header.Get("Content-Length") != strconv.FormatInt(size, 10) ||
					head.header.Get("Docker-Content-Digest") != digest || head.header.Get("Content-Type") != "application/octet-stream" {
					t.Errorf("HEAD blob %s: %d %v", digest, head.status, head.header)
				}
				body := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, img.Repo, digest)).body
				if sha(body) != digest || int64(len(body)) != size {
					t.Errorf("blob %s: got %d bytes hashing to %s", digest, len(body), sha(body))
				}
				bodies[digest] = body
			}

			var config struct {
				Architecture, OS string
				RootFS           struct {
					DiffIDs []string `json:"diff_ids"`
				} `json:"rootfs"`
			}
			if err := json.Unmarshal(bodies[doc.Config.Digest], &config); err != nil {
				t.Fatal(err)
			}
			if config.Architecture != "amd64" || config.OS != "linux" || len(config.RootFS.DiffIDs) != len(doc.Layers) {
				t.Fatalf("config = %+v", config)
			}
			for i, got := range config.RootFS.DiffIDs {
				if want := tc.wantDiffID(t, i, img); got != want {
					t.Errorf("diff_ids[%d] = %s, want %s", i, got, want)
				}
			}

			c := h.Counters()
			n := int64(len(blobs))
			if c.ManifestGets != 1 || c.BlobHeads != n || c.BlobGets != n || c.CDNGets != n || c.CDNBytes != total ||
				c.TokenRequests != n+1 || c.Unauthorized != 2 {
				t.Errorf("counters = %+v; want 1 manifest GET, %d blob HEADs, GETs and CDN GETs, %d CDN bytes", c, n, total)
			}
			for digest := range blobs {
				if c.BlobGetsByDigest[digest] != 1 {
					t.Errorf("BlobGetsByDigest[%s] = %d, want 1", digest, c.BlobGetsByDigest[digest])
				}
			}
		})
	}
}

// TestTokenExpiry proves a token stops working when the hub says so and a
// fresh one works again.
func TestTokenExpiry(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(h *fakehub.Hub)
		expire func(h *fakehub.Hub)
		want   int
	}{
		{"ExpireTokens", nil, func(h *fakehub.Hub) { h.ExpireTokens() }, http.StatusUnauthorized},
		{"past default TTL", nil, func(h *fakehub.Hub) { h.Advance(300 * time.Second) }, http.StatusUnauthorized},
		{"within default TTL", nil, func(h *fakehub.Hub) { h.Advance(299 * time.Second) }, http.StatusOK},
		{"past short TTL", func(h *fakehub.Hub) { h.SetTokenTTL(10 * time.Second) }, func(h *fakehub.Hub) { h.Advance(10 * time.Second) }, http.StatusUnauthorized},
		{"advertised expiry changes nothing", func(h *fakehub.Hub) { h.SetAdvertisedExpiry(3600) }, func(h *fakehub.Hub) { h.Advance(300 * time.Second) }, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			img := h.AddImage("library/alpine", "latest", fakehub.Layer(nil))
			if tc.setup != nil {
				tc.setup(h)
			}
			auth := bearer(t, h, img.Repo)
			if r := send(t, http.DefaultClient, http.MethodHead, manifestURL(h, img.Repo, "latest"), "Authorization", auth); r.status != http.StatusOK {
				t.Fatalf("fresh token: %d", r.status)
			}
			tc.expire(h)
			r := send(t, http.DefaultClient, http.MethodHead, manifestURL(h, img.Repo, "latest"), "Authorization", auth)
			if r.status != tc.want {
				t.Fatalf("old token: %d, want %d", r.status, tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				if e := challengeParams(t, r.header.Get("WWW-Authenticate"))["error"]; e != "invalid_token" {
					t.Errorf("challenge error = %q, want invalid_token", e)
				}
				r = send(t, http.DefaultClient, http.MethodHead, manifestURL(h, img.Repo, "latest"), "Authorization", bearer(t, h, img.Repo))
				if r.status != http.StatusOK {
					t.Errorf("new token: %d", r.status)
				}
			}
		})
	}
}

// TestTokenService covers the token service's replies and refusals.
func TestTokenService(t *testing.T) {
	login := url.Values{"service": {fakehub.Service}, "account": {"alice"}, "client_id": {"docker"}, "offline_token": {"true"}}
	tests := []struct {
		name           string
		setup          func(h *fakehub.Hub)
		user, password string
		query          url.Values
		wantStatus     int
		wantExpiresIn  int
	}{
		{name: "default", query: pullQuery("library/alpine"), wantStatus: 200, wantExpiresIn: 300},
		{name: "no scope", query: url.Values{"service": {fakehub.Service}}, wantStatus: 200, wantExpiresIn: 300},
		{name: "short TTL", setup: func(h *fakehub.Hub) { h.SetTokenTTL(10 * time.Second) }, query: pullQuery(), wantStatus: 200, wantExpiresIn: 10},
		{name: "sub-second TTL", setup: func(h *fakehub.Hub) { h.SetTokenTTL(time.Millisecond) }, query: pullQuery(), wantStatus: 200, wantExpiresIn: 1},
		{name: "advertised", setup: func(h *fakehub.Hub) { h.SetAdvertisedExpiry(60) }, query: pullQuery(), wantStatus: 200, wantExpiresIn: 60},
		{name: "docker login", user: "alice", password: "pw", query: login, wantStatus: 200, wantExpiresIn: 300},
		{name: "wrong password", user: "alice", password: "nope", query: login, wantStatus: 401},
		{name: "unknown user", user: "mallory", password: "pw", query: login, wantStatus: 401},
		{name: "no service", query: url.Values{"scope": {"repository:library/alpine:pull"}}, wantStatus: 400},
		{name: "wrong service", query: url.Values{"service": {"registry.docker.io"}}, wantStatus: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			h.AddImage("library/alpine", "latest")
			h.AddUser("alice", "pw")
			if tc.setup != nil {
				tc.setup(h)
			}
			status, tok := requestToken(t, h, tc.user, tc.password, tc.query)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d", status, tc.wantStatus)
			}
			c := h.Counters()
			if tc.wantStatus != http.StatusOK {
				if c.TokenFailures != 1 {
					t.Errorf("TokenFailures = %d, want 1", c.TokenFailures)
				}
				return
			}
			if tok.ExpiresIn != tc.wantExpiresIn || tok.Token == "" || tok.AccessToken != tok.Token {
				t.Errorf("reply = %+v, want expires_in %d", tok, tc.wantExpiresIn)
			}
			if c.TokenRequests != 1 || c.TokenFailures != 0 {
				t.Errorf("counters = %+v", c)
			}
		})
	}
}

// TestIssuedAtFollowsClock checks issued_at reads the hub's clock.
func TestIssuedAtFollowsClock(t *testing.T) {
	h := newHub(t)
	h.Advance(48 * time.Hour)
	before := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	_, tok := requestToken(t, h, "", "", pullQuery())
	after := time.Now().Add(48 * time.Hour)
	issued, err := time.Parse(time.RFC3339, tok.IssuedAt)
	if err != nil || issued.Before(before) || issued.After(after) {
		t.Fatalf("issued_at = %q (%v), want between %v and %v", tok.IssuedAt, err, before, after)
	}
}

// TestPrivateRepo checks only the owner gets pull on a private repository
// and that, like Docker Hub, a repository that does not exist answers 401.
func TestPrivateRepo(t *testing.T) {
	tests := []struct {
		name, repo, user, password string
		wantToken                  int
		wantManifest               int
	}{
		{name: "owner", repo: "alice/secret", user: "alice", password: "pw", wantToken: 200, wantManifest: 200},
		{name: "anonymous", repo: "alice/secret", wantToken: 200, wantManifest: 401},
		{name: "other user", repo: "alice/secret", user: "bob", password: "pw2", wantToken: 200, wantManifest: 401},
		{name: "owner with wrong password", repo: "alice/secret", user: "alice", password: "pw2", wantToken: 401},
		{name: "public repo, logged in", repo: "library/alpine", user: "bob", password: "pw2", wantToken: 200, wantManifest: 200},
		{name: "no such repo", repo: "library/nope", wantToken: 200, wantManifest: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(t)
			h.AddUser("alice", "pw")
			h.AddUser("bob", "pw2")
			h.AddImage("alice/secret", "v1", fakehub.Layer(map[string]string{"k": "v"}))
			h.AddImage("library/alpine", "v1")
			h.SetPrivate("alice/secret", "alice")
			status, tok := requestToken(t, h, tc.user, tc.password, pullQuery(tc.repo))
			if status != tc.wantToken {
				t.Fatalf("token status %d, want %d", status, tc.wantToken)
			}
			if status != http.StatusOK {
				return
			}
			r := send(t, http.DefaultClient, http.MethodGet, manifestURL(h, tc.repo, "v1"), "Authorization", "Bearer "+tok.Token)
			if r.status != tc.wantManifest {
				t.Fatalf("manifest status %d, want %d", r.status, tc.wantManifest)
			}
			if r.status == http.StatusUnauthorized {
				ch := challengeParams(t, r.header.Get("WWW-Authenticate"))
				if ch["error"] != "insufficient_scope" || ch["scope"] != "repository:"+tc.repo+":pull" || errorCode(t, r) != "UNAUTHORIZED" {
					t.Errorf("challenge = %v", ch)
				}
				if h.Counters().Unauthorized != 1 {
					t.Errorf("Unauthorized = %d, want 1", h.Counters().Unauthorized)
				}
			}
		})
	}
}

// TestRequestsLog checks the log records what each server saw, including
// the Authorization header, and that ResetCounters empties it.
func TestRequestsLog(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/alpine", "latest", []byte("layer"))
	auth := bearer(t, h, img.Repo)
	r := send(t, noRedirect, http.MethodGet, blobURL(h, img.Repo, img.Layers[0].Digest), "Authorization", auth)
	send(t, http.DefaultClient, http.MethodGet, r.header.Get("Location"))
	want := []struct{ server, method, path, auth string }{
		{fakehub.ServerAuth, http.MethodGet, "/token", ""},
		{fakehub.ServerRegistry, http.MethodGet, "/v2/library/alpine/blobs/" + img.Layers[0].Digest, auth},
		{fakehub.ServerCDN, http.MethodGet, "/blobs/" + img.Layers[0].Digest, ""},
	}
	got := h.Requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests logged, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Server != w.server || g.Method != w.method || g.Path != w.path || g.Authorization != w.auth {
			t.Errorf("request %d = %s %s %s auth %q, want %+v", i, g.Server, g.Method, g.Path, g.Authorization, w)
		}
	}
	if got[2].RawQuery == "" || got[2].Header.Get("Authorization") != "" {
		t.Errorf("CDN request: query %q, header %v", got[2].RawQuery, got[2].Header)
	}
	h.ResetCounters()
	if n := len(h.Requests()); n != 0 || !reflect.DeepEqual(h.Counters(), fakehub.Counters{BlobGetsByDigest: map[string]int{}}) {
		t.Errorf("after ResetCounters: %d requests, counters %+v", n, h.Counters())
	}
}

// TestLayer checks Layer is deterministic and holds the files, sorted.
func TestLayer(t *testing.T) {
	files := map[string]string{"b/two": "2", "a/one": "1", "c": ""}
	layer := fakehub.Layer(files)
	if !bytes.Equal(layer, fakehub.Layer(files)) {
		t.Fatal("Layer is not deterministic")
	}
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if string(body) != files[hdr.Name] || hdr.ModTime.IsZero() {
			t.Errorf("%s: %q, mtime %v", hdr.Name, body, hdr.ModTime)
		}
		names = append(names, hdr.Name)
	}
	if want := []string{"a/one", "b/two", "c"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names = %v, want %v", names, want)
	}
}

// UserAgentProblems names each request with another User-Agent, and each
// of the three servers no request reached.
func TestUserAgentProblems(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/alpine", "3.20", []byte("rootfs"))
	if got := h.UserAgentProblems("agent/1"); len(got) != 3 {
		t.Errorf("before any request: %q, want the three servers named", got)
	}
	tok := bearer(t, h, "library/alpine")
	send(t, http.DefaultClient, http.MethodGet, manifestURL(h, "library/alpine", "3.20"), "Authorization", "Bearer "+tok, "User-Agent", "agent/1")
	send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/alpine", img.Layers[0].Digest), "User-Agent", "other/2")
	got := h.UserAgentProblems("agent/1")
	// Wrong: the two token requests and the registry's blob GET (made by
	// bearer and cdnURL with Go's agent) and the CDN GET with other/2;
	// the manifest GET carried agent/1.
	var other int
	for _, p := range got {
		switch {
		case strings.Contains(p, "no request reached"):
			t.Errorf("a server is named though it saw requests: %s", p)
		case strings.Contains(p, "/manifests/"):
			t.Errorf("the manifest GET, with the wanted agent, is named: %s", p)
		case strings.Contains(p, `"other/2"`):
			other++
		}
	}
	if len(got) != 4 || other != 1 {
		t.Errorf("problems %q: want the two token requests, the blob GET and the CDN GET with other/2", got)
	}
}
