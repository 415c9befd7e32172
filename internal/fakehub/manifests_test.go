package fakehub_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// TestAcceptNegotiation checks an index is served to clients that accept it
// and the linux/amd64 manifest to those that only accept image manifests.
func TestAcceptNegotiation(t *testing.T) {
	const (
		list     = fakehub.MediaTypeDockerList
		index    = fakehub.MediaTypeOCIIndex
		schema2  = fakehub.MediaTypeDockerManifest
		ociImage = fakehub.MediaTypeOCIManifest
	)
	for _, indexType := range []string{list, index} {
		t.Run(indexType, func(t *testing.T) {
			h := newHub(t)
			amd := h.AddImage("library/multi", "", fakehub.Layer(map[string]string{"arch": "amd64"}))
			arm := h.AddPlatformImage("library/multi", "", "linux/arm64/v8", fakehub.Layer(map[string]string{"arch": "arm64"}))
			idx := h.AddIndex("library/multi", "latest", indexType, map[string]fakehub.Image{"linux/arm64/v8": arm, "linux/amd64": amd})
			otherIndex := map[string]string{list: index, index: list}[indexType]

			var doc manifestDoc
			if err := json.Unmarshal(idx.Manifest, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.MediaType != indexType || len(doc.Manifests) != 2 ||
				doc.Manifests[0].Digest != amd.Digest || doc.Manifests[0].Platform.Architecture != "amd64" ||
				doc.Manifests[1].Digest != arm.Digest || doc.Manifests[1].Platform.Variant != "v8" {
				t.Fatalf("index = %s", idx.Manifest)
			}

			tests := []struct {
				name   string
				accept []string // one Accept header per entry
				want   *fakehub.Image
			}{
				{"no Accept", nil, &idx},
				{"index type", []string{indexType}, &idx},
				{"every type", []string{schema2 + ", " + list + ", " + ociImage + ", " + index}, &idx},
				{"wildcard", []string{"*/*"}, &idx},
				{"image manifest only", []string{schema2}, &amd},
				{"parameters ignored", []string{schema2 + "; q=0.9, " + otherIndex + ";q=0.5"}, &amd},
				{"several headers", []string{"application/json", schema2}, &amd},
				{"nothing acceptable", []string{ociImage}, nil},
			}
			auth := bearer(t, h, "library/multi")
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					for _, method := range []string{http.MethodGet, http.MethodHead} {
						header := []string{"Authorization", auth}
						for _, a := range tc.accept {
							header = append(header, "Accept", a)
						}
						r := send(t, http.DefaultClient, method, manifestURL(h, "library/multi", "latest"), header...)
						if tc.want == nil {
							if r.status != http.StatusNotFound || (method == http.MethodGet && errorCode(t, r) != "MANIFEST_UNKNOWN") {
								t.Errorf("%s: %d %s, want 404 MANIFEST_UNKNOWN", method, r.status, r.body)
							}
							continue
						}
						if r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != tc.want.Digest ||
							r.header.Get("Content-Type") != tc.want.MediaType {
							t.Errorf("%s: %d, digest %s, type %s; want %s %s", method, r.status,
								r.header.Get("Docker-Content-Digest"), r.header.Get("Content-Type"), tc.want.Digest, tc.want.MediaType)
						}
						if method == http.MethodGet && string(r.body) != string(tc.want.Manifest) {
							t.Errorf("GET body is not the wanted manifest")
						}
					}
				})
			}
			if r := send(t, http.DefaultClient, http.MethodGet, manifestURL(h, "library/multi", arm.Digest), "Authorization", auth); r.status != http.StatusOK {
				t.Errorf("platform manifest by digest: %d", r.status)
			}
		})
	}
}

// TestRateLimit checks GETs use up the limit, HEADs do not, and both carry
// the rate-limit headers.
func TestRateLimit(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/alpine", "latest", fakehub.Layer(nil))
	h.SetRateLimit(2)
	auth := bearer(t, h, img.Repo)
	steps := []struct {
		method        string
		wantStatus    int
		wantRemaining string
	}{
		{http.MethodHead, 200, "2;w=21600"},
		{http.MethodGet, 200, "1;w=21600"},
		{http.MethodHead, 200, "1;w=21600"},
		{http.MethodGet, 200, "0;w=21600"},
		{http.MethodGet, 429, "0;w=21600"},
		{http.MethodHead, 200, "0;w=21600"},
	}
	for i, s := range steps {
		r := send(t, http.DefaultClient, s.method, manifestURL(h, img.Repo, "latest"), "Authorization", auth)
		if r.status != s.wantStatus || r.header.Get("RateLimit-Remaining") != s.wantRemaining ||
			r.header.Get("RateLimit-Limit") != "2;w=21600" {
			t.Fatalf("step %d %s: %d, limit %q, remaining %q; want %d, %q", i, s.method, r.status,
				r.header.Get("RateLimit-Limit"), r.header.Get("RateLimit-Remaining"), s.wantStatus, s.wantRemaining)
		}
		if r.status == http.StatusTooManyRequests && errorCode(t, r) != "TOOMANYREQUESTS" {
			t.Errorf("step %d: code %s", i, errorCode(t, r))
		}
	}
	if c := h.Counters(); c.ManifestGets != 3 || c.ManifestHeads != 3 || c.RateLimited != 1 {
		t.Errorf("counters = %+v", c)
	}
	h.SetRateLimit(5)
	if r := send(t, http.DefaultClient, http.MethodGet, manifestURL(h, img.Repo, "latest"), "Authorization", auth); r.status != http.StatusOK {
		t.Errorf("after SetRateLimit(5): %d", r.status)
	}
}

// TestTagsList checks sorting and pagination.
func TestTagsList(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/alpine", "d")
	for _, tag := range []string{"b", "a", "c"} {
		h.SetTag(img.Repo, tag, img.Digest)
	}
	auth := bearer(t, h, img.Repo)
	tests := []struct {
		query    string
		wantTags []string
		wantLink string
	}{
		{"", []string{"a", "b", "c", "d"}, ""},
		{"?n=2", []string{"a", "b"}, `</v2/library/alpine/tags/list?last=b&n=2>; rel="next"`},
		{"?last=b", []string{"c", "d"}, ""},
		{"?n=2&last=b", []string{"c", "d"}, ""},
		{"?n=0", []string{}, ""},
		{"?last=z", []string{}, ""},
	}
	for _, tc := range tests {
		r := send(t, http.DefaultClient, http.MethodGet, h.URL()+"/v2/library/alpine/tags/list"+tc.query, "Authorization", auth)
		var got struct {
			Name string
			Tags []string
		}
		if err := json.Unmarshal(r.body, &got); err != nil || r.status != http.StatusOK {
			t.Fatalf("%q: %d %s", tc.query, r.status, r.body)
		}
		if got.Name != img.Repo || !reflect.DeepEqual(got.Tags, tc.wantTags) || r.header.Get("Link") != tc.wantLink {
			t.Errorf("%q: %+v, Link %q; want %v, %q", tc.query, got, r.header.Get("Link"), tc.wantTags, tc.wantLink)
		}
	}
	if c := h.Counters().TagsLists; c != int64(len(tests)) {
		t.Errorf("TagsLists = %d, want %d", c, len(tests))
	}
}

// TestRepoScoping checks blobs and manifests are served only in the
// repositories they belong to, and registry errors carry spec codes.
func TestRepoScoping(t *testing.T) {
	h := newHub(t)
	a := h.AddImage("library/a", "v1", []byte("layer a"))
	h.AddImage("library/b", "v1", []byte("layer b"))
	global := h.AddBlob([]byte("global"))
	auth := bearer(t, h, "library/a", "library/b")
	tests := []struct {
		name, method, url string
		wantStatus        int
		wantCode          string
	}{
		{"own blob", "HEAD", blobURL(h, "library/a", a.Layers[0].Digest), 200, ""},
		{"other repo's blob HEAD", "HEAD", blobURL(h, "library/b", a.Layers[0].Digest), 404, ""},
		{"other repo's blob GET", "GET", blobURL(h, "library/b", a.Layers[0].Digest), 404, "BLOB_UNKNOWN"},
		{"global blob", "GET", blobURL(h, "library/b", global.Digest), 307, ""},
		{"other repo's manifest", "GET", manifestURL(h, "library/b", a.Digest), 404, "MANIFEST_UNKNOWN"},
		{"unknown tag", "GET", manifestURL(h, "library/a", "nope"), 404, "MANIFEST_UNKNOWN"},
		{"invalid digest", "GET", blobURL(h, "library/a", "sha256:xyz"), 400, "DIGEST_INVALID"},
		{"ns parameter ignored", "GET", manifestURL(h, "library/b", "v1") + "?ns=docker.io", 200, ""},
		{"write", "PUT", manifestURL(h, "library/a", "v2"), 405, "UNSUPPORTED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, noRedirect, tc.method, tc.url, "Authorization", auth)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if tc.wantCode != "" && errorCode(t, r) != tc.wantCode {
				t.Errorf("code %s, want %s", errorCode(t, r), tc.wantCode)
			}
		})
	}
}

// TestTags checks SetTag moves and links tags and DeleteTag removes them.
func TestTags(t *testing.T) {
	h := newHub(t)
	a1 := h.AddImage("library/a", "v1", []byte("one"))
	a2 := h.AddImage("library/a", "", []byte("two"))
	auth := bearer(t, h, "library/a", "library/b")
	get := func(repo, ref string) reply {
		return send(t, http.DefaultClient, http.MethodGet, manifestURL(h, repo, ref), "Authorization", auth)
	}

	if r := get("library/a", a2.Digest); r.status != http.StatusOK {
		t.Fatalf("untagged image by digest: %d", r.status)
	}
	h.SetTag("library/a", "v1", a2.Digest)
	if d := get("library/a", "v1").header.Get("Docker-Content-Digest"); d != a2.Digest {
		t.Errorf("moved tag serves %s, want %s", d, a2.Digest)
	}
	h.SetTag("library/b", "copy", a1.Digest)
	auth = bearer(t, h, "library/a", "library/b") // library/b exists only now
	if d := get("library/b", "copy").header.Get("Docker-Content-Digest"); d != a1.Digest {
		t.Errorf("tag in another repo serves %s, want %s", d, a1.Digest)
	}
	if r := send(t, http.DefaultClient, http.MethodHead, blobURL(h, "library/b", a1.Layers[0].Digest), "Authorization", auth); r.status != http.StatusOK {
		t.Errorf("blob of a tagged-in manifest: %d", r.status)
	}
	h.DeleteTag("library/a", "v1")
	if r := get("library/a", "v1"); r.status != http.StatusNotFound {
		t.Errorf("deleted tag: %d", r.status)
	}
	if r := get("library/a", a2.Digest); r.status != http.StatusOK {
		t.Errorf("manifest of a deleted tag by digest: %d", r.status)
	}
}
