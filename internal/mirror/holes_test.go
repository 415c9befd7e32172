package mirror

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// Tests for checks that no other test would miss if they were gone: each
// one was seen to fail with the check removed from the code.

func manifestFile(tm *testMirror, d string) string {
	return filepath.Join(tm.dir, "manifests", "sha256", d[7:9], d[7:])
}

// checkCachedManifests fails the test if any manifest file in the cache
// holds bytes that do not hash to its name.
func checkCachedManifests(t *testing.T, tm *testMirror) {
	t.Helper()
	root := filepath.Join(tm.dir, "manifests")
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, data, _ := bytes.Cut(raw, []byte{'\n'})
		if want := filepath.Base(filepath.Dir(filepath.Dir(p))) + ":" + e.Name(); sha(data) != want {
			t.Errorf("the cache holds manifest %s with bytes that hash to %s", want, sha(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An upstream manifest whose bytes do not match its digest is never served
// with 200 and never cached, whether the digest came from the client, from
// the HEAD of a tag, or from the Docker-Content-Digest of a GET by tag.
func TestUpstreamManifestMustMatchDigest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		headOnly bool // HEADs carry no digest: the mirror GETs the tag
		ref      func(fakehub.Image) string
	}{
		{"by digest", false, func(img fakehub.Image) string { return img.Digest }},
		{"by tag, digest from HEAD", false, func(img fakehub.Image) string { return img.Tag }},
		{"by tag, digest from the GET", true, func(img fakehub.Image) string { return img.Tag }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub(t)
			img := hub.AddImage("library/app", "1", []byte("layer"))
			tm := startMirror(t, hub)
			hub.CorruptManifests(true)
			hub.OmitHeadDigest(tc.headOnly)
			path := "/v2/app/manifests/" + tc.ref(img)
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := tm.do(t, method, path, "Accept", fullAccept)
				if r.status == http.StatusOK && method == http.MethodGet {
					t.Errorf("GET %s: 200 with bytes hashing to %s, want a refusal (upstream sent %s's digest)", path, sha(r.body), img.Digest)
				}
			}
			if _, err := os.Stat(manifestFile(tm, img.Digest)); err == nil {
				t.Errorf("the damaged manifest was cached")
			}
			checkCachedManifests(t, tm)
			if hub.Counters().ManifestGets == 0 {
				t.Fatalf("no manifest GET reached upstream: the test proved nothing")
			}
			hub.CorruptManifests(false)
			if r := tm.get(t, path, "Accept", fullAccept); r.status != http.StatusOK || !bytes.Equal(r.body, img.Manifest) {
				t.Errorf("after upstream is fixed: %d %s", r.status, r.body)
			}
		})
	}
}

// Under self_auth, a tag served from the cache while upstream is down goes
// only to a user upstream already let read the repository: not to another
// logged-in user, not to an anonymous session.
func TestSelfAuthOfflineTagNeedsUsersAccess(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	hub.AddUser("bobby", "bobby-pw")
	secret := hub.AddImage("alice/secret", "v1", []byte("alice's private layer"))
	hub.SetPrivate("alice/secret", "alice")
	tm := startAuthMirror(t, hub)

	_, alice := tm.login(t, "alice", "alice-pw", "alice/secret")
	if got := tm.pullWith(t, alice, "alice/secret", secret); got != http.StatusOK {
		t.Fatalf("alice pulls her image: %d", got)
	}
	_, bob := tm.login(t, "bobby", "bobby-pw", "alice/secret")
	_, anon := tm.login(t, "", "", "alice/secret")
	if bob == "" || anon == "" {
		t.Fatalf("tokens for bobby %q and anonymous %q", bob, anon)
	}
	hub.SetDown(true)
	for who, tok := range map[string]string{"bobby": bob, "anonymous": anon} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			for range 2 { // the second finds upstream marked down
				r := tm.do(t, method, "/v2/alice/secret/manifests/v1", "Authorization", "Bearer "+tok, "Accept", fullAccept)
				if r.status == http.StatusOK || bytes.Contains(r.body, []byte(secret.Config.Digest)) {
					t.Errorf("%s %s of alice's tag with Docker Hub down: %d", who, method, r.status)
				}
			}
		}
	}
	// The offline path works for alice, so the refusals above are its doing.
	r := tm.get(t, "/v2/alice/secret/manifests/v1", "Authorization", "Bearer "+alice, "Accept", fullAccept)
	if r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != string(sourceOffline) {
		t.Errorf("alice offline: %d, cache %q", r.status, r.header.Get("X-Hubmirror-Cache"))
	}
}

// flipManifestByte rewrites the cached manifest img with one byte of its
// JSON changed, after the media-type line.
func flipManifestByte(t *testing.T, tm *testMirror, img fakehub.Image) {
	t.Helper()
	p := manifestFile(tm, img.Digest)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	mediaType, _, ok := bytes.Cut(raw, []byte{'\n'})
	if !ok {
		t.Fatalf("cached manifest %q has no media-type line", raw)
	}
	data := bytes.Clone(img.Manifest)
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(p, append(append(mediaType, '\n'), data...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A cached manifest damaged on disk is never served with 200: by digest and
// by tag it is fetched again, and with upstream down it is refused.
func TestCorruptCachedManifestIsNotServed(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/app", "1", []byte("layer"))
	tm := startMirror(t, hub)
	tm.pull(t, "app", img)
	for _, tc := range []struct {
		name string
		path string
		down bool
	}{
		{"by digest", "/v2/app/manifests/" + img.Digest, false},
		{"by tag", "/v2/app/manifests/1", false},
		{"by tag, upstream down", "/v2/app/manifests/1", true},
		{"by digest, upstream down", "/v2/app/manifests/" + img.Digest, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(manifestFile(tm, img.Digest)); err != nil {
				tm.get(t, "/v2/app/manifests/1", "Accept", fullAccept) // cache it again
			}
			flipManifestByte(t, tm, img)
			hub.SetDown(tc.down)
			defer hub.SetDown(false)
			r := tm.get(t, tc.path, "Accept", fullAccept)
			switch {
			case r.status == http.StatusOK && !bytes.Equal(r.body, img.Manifest):
				t.Fatalf("served the damaged manifest with 200 (hashes to %s)", sha(r.body))
			case r.status != http.StatusOK && !tc.down:
				t.Fatalf("upstream is up, yet: %d %s", r.status, r.body)
			case r.status == http.StatusOK && tc.down:
				t.Fatalf("served 200 with upstream down and only a damaged copy")
			}
		})
	}
}

// A resume that upstream answers with 206 for another offset than asked is
// not written into the blob: the mirror asks again and the client gets the
// right bytes; when every resume is wrong, the client sees a cut connection,
// never a complete wrong body, and nothing wrong is cached.
func TestResumeRefusesRangeFromAnotherOffset(t *testing.T) {
	const size = 3 << 20
	for _, tc := range []struct {
		name  string
		shift int64
		times int // wrong 206 answers in a row
	}{
		{"later start once", 4096, 1},
		{"earlier start once", -4096, 1},
		{"later start always", 4096, 100},
		{"earlier start always", -4096, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub(t)
			img := hub.AddImage("library/app", "1", pattern(size))
			layer := img.Layers[0].Digest
			tm := startMirror(t, hub)
			hub.DropBlobAfter(1<<20, 1)
			hub.ShiftRange(tc.shift, tc.times)
			resp, err := http.Get(tm.base + "/v2/app/blobs/" + layer)
			if err != nil {
				t.Fatal(err)
			}
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			tm.blobs.Wait()
			complete := rerr == nil && resp.StatusCode == http.StatusOK
			if complete && sha(body) != layer {
				t.Fatalf("200 with a complete wrong body (%d bytes hashing to %s)", len(body), sha(body))
			}
			if tc.times == 1 && (!complete || sha(body) != layer) {
				t.Errorf("one wrong 206, then a good one: status %d, %d bytes, read error %v, want the blob", resp.StatusCode, len(body), rerr)
			}
			if raw, err := os.ReadFile(blobFile(tm, layer)); err == nil && sha(raw) != layer {
				t.Errorf("the cache holds wrong bytes for %s", layer)
			}
			var ranged int
			for _, q := range hub.Requests() {
				if q.Server == fakehub.ServerCDN && q.Header.Get("Range") != "" {
					ranged++
				}
			}
			if ranged == 0 {
				t.Fatalf("no resume reached the CDN: the test proved nothing")
			}
		})
	}
}

// However the CDN fails (connection refused or closed, 500, 403, a body cut
// short), no response and no log line carries a signed URL's signature or
// query: those are credentials.
func TestSignedCDNURLStaysOutOfErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*fakehub.Hub)
	}{
		{"connection refused", func(h *fakehub.Hub) { h.CDN.Close() }},
		{"connection closed", func(h *fakehub.Hub) { h.SetCDNDown(true) }},
		{"500", func(h *fakehub.Hub) { h.SetCDNStatus(http.StatusInternalServerError) }},
		{"403", func(h *fakehub.Hub) { h.SetCDNStatus(http.StatusForbidden) }},
		{"body cut short", func(h *fakehub.Hub) { h.DropBlobAfter(1000, 100) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub(t)
			img := hub.AddImage("library/app", "1", pattern(100_000))
			layer := img.Layers[0].Digest
			tm := startMirror(t, hub)
			tc.fault(hub)
			var text strings.Builder
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				req, _ := http.NewRequest(method, tm.base+"/v2/app/blobs/"+layer, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					text.Write(body)
				}
				for _, h := range resp.Header {
					text.WriteString(strings.Join(h, " "))
				}
			}
			tm.blobs.Wait()
			logs := tm.logs.String()
			if !strings.Contains(logs, "level=WARN") {
				t.Fatalf("the CDN failure was never logged: the test proved nothing\n%s", logs)
			}
			all := logs + text.String()
			var secrets []string
			for _, q := range hub.Requests() {
				if q.Server != fakehub.ServerCDN {
					continue
				}
				if v, err := url.ParseQuery(q.RawQuery); err == nil && v.Get("signature") != "" {
					secrets = append(secrets, v.Get("signature"), q.RawQuery)
				}
			}
			if tc.name != "connection refused" && len(secrets) == 0 {
				t.Fatalf("no signed URL reached the CDN: the test proved nothing")
			}
			for _, s := range append(secrets, "signature=", "expires=") {
				if i := strings.Index(all, s); i >= 0 {
					t.Errorf("%q is in a log line or response: …%s…", s, all[max(i-200, 0):min(i+len(s)+50, len(all))])
				}
			}
		})
	}
}

// Under self_auth, upstream's answers to the user's own requests decide
// what the cache may give that user: a tag revalidated for alice may be
// served to her from the cache once Docker Hub is down, even though she
// fetched nothing else; a blob upstream refused bobby is refused him again
// without asking upstream.
func TestSelfAuthUpstreamAnswersDecideAccess(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	hub.AddUser("bobby", "bobby-pw")
	secret := hub.AddImage("alice/secret", "v1", []byte("alice's private layer"))
	hub.SetPrivate("alice/secret", "alice")
	tm := startAuthMirror(t, hub)
	_, alice := tm.login(t, "alice", "alice-pw", "alice/secret")
	_, bob := tm.login(t, "bobby", "bobby-pw", "alice/secret")
	tag := "/v2/alice/secret/manifests/v1"
	if r := tm.get(t, tag, "Authorization", "Bearer "+alice, "Accept", fullAccept); r.status != http.StatusOK {
		t.Fatalf("alice's tag: %d %s", r.status, r.body)
	}

	blob := "/v2/alice/secret/blobs/" + secret.Layers[0].Digest
	blobHeads := func() int {
		n := 0
		for _, r := range hub.Requests() {
			if r.Server == fakehub.ServerRegistry && r.Method == http.MethodHead && strings.Contains(r.Path, "/blobs/") {
				n++
			}
		}
		return n
	}
	first := 0
	for i := range 2 {
		if r := tm.get(t, blob, "Authorization", "Bearer "+bob); r.status == http.StatusOK {
			t.Fatalf("bobby's GET %d of alice's blob: %d", i+1, r.status)
		}
		if i == 0 {
			if first = blobHeads(); first == 0 {
				t.Fatalf("bobby's first GET asked upstream nothing: the test proves nothing")
			}
		}
	}
	if n := blobHeads() - first; n != 0 {
		t.Errorf("%d HEADs upstream for bobby's second GET, want none: upstream's refusal is remembered", n)
	}

	hub.SetDown(true)
	r := tm.get(t, tag, "Authorization", "Bearer "+alice, "Accept", fullAccept)
	if r.status != http.StatusOK || r.header.Get("X-Hubmirror-Cache") != string(sourceOffline) {
		t.Errorf("alice's tag with Docker Hub down: %d, cache %q; want it offline", r.status, r.header.Get("X-Hubmirror-Cache"))
	}
}
