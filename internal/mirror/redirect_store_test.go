package mirror

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// storeFamilies are the families /metrics writes with a store behind the
// cache, besides metricFamilies.
var storeFamilies = map[string]dto.MetricType{
	"hubmirror_store_blob_reads_total":      dto.MetricType_COUNTER,
	"hubmirror_store_read_bytes_total":      dto.MetricType_COUNTER,
	"hubmirror_store_uploads_total":         dto.MetricType_COUNTER,
	"hubmirror_store_upload_failures_total": dto.MetricType_COUNTER,
	"hubmirror_store_record_reads_total":    dto.MetricType_COUNTER,
	"hubmirror_store_record_writes_total":   dto.MetricType_COUNTER,
	"hubmirror_store_errors_total":          dto.MetricType_COUNTER,
	"hubmirror_store_damaged_blobs_total":   dto.MetricType_COUNTER,
	"hubmirror_store_redirects_total":       dto.MetricType_COUNTER,
	"hubmirror_store_evicted_blobs_total":   dto.MetricType_COUNTER,
	"hubmirror_store_evicted_bytes_total":   dto.MetricType_COUNTER,
	"hubmirror_store_full_total":            dto.MetricType_COUNTER,
	"hubmirror_store_stamps_total":          dto.MetricType_COUNTER,
	"hubmirror_store_stamps_dropped_total":  dto.MetricType_COUNTER,
	"hubmirror_store_bytes":                 dto.MetricType_GAUGE,
}

// withStore puts a mirror's cache in front of storeURL, with the test
// server's keys, and sets store_redirect to redirect.
func withStore(storeURL string, redirect bool) func(*Config) {
	return func(c *Config) {
		c.Store = storeURL
		c.StoreCredentials = objstore.Static(objstore.Keys{AccessKeyID: s3server.AccessKey, SecretAccessKey: s3server.SecretKey})
		c.StoreRedirect = redirect
	}
}

// stopUploaded waits until tm uploaded n blobs to the store, then stops
// it. (Stop alone would cut uploads still running.)
func (tm *testMirror) stopUploaded(t *testing.T, n int64) {
	t.Helper()
	testutil.Eventually(t, "the blobs uploaded to the store", func() bool {
		return tm.stats.store.RemoteUploads.Load() >= n
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tm.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// noFollow is a client that reads redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// doNoFollow sends a request to tm with noFollow; header is name, value
// pairs.
func (tm *testMirror) doNoFollow(t *testing.T, method, path string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, tm.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil {
		addSecret(loc.Query().Get("X-Amz-Signature")) // TestMain checks that no log holds it
	}
	return resp
}

// getURL GETs u with an optional Range and returns the status and body.
func getURL(t *testing.T, u, rng string) (int, []byte) {
	t.Helper()
	return testutil.Get(t, nil, u, "Range", rng)
}

// storeMetrics reads tm's /metrics, checking that the text parses and
// that it has every family, the store's too, and no other.
func (tm *testMirror) storeMetrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	r := tm.get(t, "/metrics")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, r.body)
	}
	for name, typ := range storeFamilies {
		checkFamily(t, families[name], name, typ)
	}
	for name, typ := range metricFamilies {
		checkFamily(t, families[name], name, typ)
	}
	if len(families) != len(metricFamilies)+len(storeFamilies) {
		t.Errorf("/metrics has %d families, want %d", len(families), len(metricFamilies)+len(storeFamilies))
	}
	return families
}

// counter is the value of a family's one sample.
func counter(families map[string]*dto.MetricFamily, name string) int64 {
	mf := families[name]
	if mf == nil || len(mf.GetMetric()) != 1 {
		return -1
	}
	return int64(mf.GetMetric()[0].GetCounter().GetValue())
}

// seededStore is a bucket of its own on srv, under the prefix "team",
// that holds the blobs of library/repo:latest (a layer of size bytes and
// its config): a first mirror pulled the image and uploaded them, and
// stopped. It returns the store's URL, the hub and the image.
func seededStore(t *testing.T, srv *s3server.Server, repo string, size int) (string, *fakehub.Hub, fakehub.Image) {
	t.Helper()
	storeURL := srv.URL(srv.NewBucket(t), "team")
	hub := newHub(t)
	img := hub.AddImage("library/"+repo, "latest", pattern(size))
	a := startMirrorCfg(t, hub, withStore(storeURL, false))
	a.pull(t, repo, img)
	a.stopUploaded(t, 2)
	return storeURL, hub, img
}

// TestStoreBehindTheMirror runs the tests of a mirror with an object
// store behind it on one real S3 server (SeaweedFS), each on a bucket of
// its own.
func TestStoreBehindTheMirror(t *testing.T) {
	srv := s3server.Start(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, *s3server.Server)
	}{
		{"redirect", testRedirect},
		{"no redirect without the setting", testNoRedirectWithoutTheSetting},
		{"redirect needs access", testRedirectNeedsAccess},
		{"blob HEAD from the store offline", testBlobHeadFromStoreOffline},
		{"uploads cut by a kill are cleaned", testCleanUploads},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, srv) })
	}
}

// testRedirect: with store_redirect, a mirror answers GETs of blobs the store holds
// with a 307 to a presigned URL of the store, which serves them whole or
// in ranges; HEADs it answers itself; a blob the store lacks it serves
// itself. The URL reaches no log, and /metrics counts the redirects.
func testRedirect(t *testing.T, srv *s3server.Server) {
	storeURL, hub, img := seededStore(t, srv, "redirected", 300_000)

	hub.ResetCounters()
	b := startMirrorCfg(t, hub, withStore(storeURL, true))
	redirects := int64(0)
	for _, blob := range append([]fakehub.Blob{img.Config}, img.Layers...) {
		path := "/v2/redirected/blobs/" + blob.Digest
		resp := b.doNoFollow(t, http.MethodGet, path)
		if resp.StatusCode != http.StatusTemporaryRedirect {
			t.Fatalf("GET %s: %d, want 307", path, resp.StatusCode)
		}
		redirects++
		if got := resp.Header.Get("Docker-Content-Digest"); got != blob.Digest {
			t.Errorf("redirect's Docker-Content-Digest %q, want %s", got, blob.Digest)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("redirect's Cache-Control %q, want no-store: the URL expires", cc)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Query().Get("X-Amz-Signature") == "" {
			t.Fatalf("redirect's Location %v is not a presigned URL (%v)", loc, err)
		}
		if got := loc.Query().Get("X-Amz-Expires"); got != "600" {
			t.Errorf("the presigned URL is valid for %q s, want 600", got)
		}
		if st, body := getURL(t, loc.String(), ""); st != http.StatusOK || !bytes.Equal(body, blob.Data) {
			t.Errorf("GET of the store's URL: %d, %d bytes; want 200 and the blob's %d", st, len(body), blob.Size)
		}

		head := b.doNoFollow(t, http.MethodHead, path)
		if head.StatusCode != http.StatusOK || head.Header.Get("Content-Length") != strconv.FormatInt(blob.Size, 10) {
			t.Errorf("HEAD %s: %d, Content-Length %q; want 200 and %d from the mirror", path, head.StatusCode, head.Header.Get("Content-Length"), blob.Size)
		}
	}

	layer := img.Layers[0]
	ranged := b.doNoFollow(t, http.MethodGet, "/v2/redirected/blobs/"+layer.Digest, "Range", "bytes=1000-1999")
	if ranged.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("ranged GET: %d, want 307", ranged.StatusCode)
	}
	redirects++
	if st, body := getURL(t, ranged.Header.Get("Location"), "bytes=1000-1999"); st != http.StatusPartialContent || !bytes.Equal(body, layer.Data[1000:2000]) {
		t.Errorf("ranged GET of the store's URL: %d, %d bytes; want 206 and the range", st, len(body))
	}

	// A client that follows redirects pulls the image right.
	b.pull(t, "redirected", img)
	redirects += int64(1 + len(img.Layers))
	if c := hub.Counters(); c.BlobGets != 0 || c.CDNGets != 0 {
		t.Errorf("the redirecting mirror took %d blob GETs and %d CDN GETs from upstream, want 0", c.BlobGets, c.CDNGets)
	}
	if n := b.stats.bytesFromCache.Load() + b.stats.bytesFromUpstream.Load(); n != 0 {
		t.Errorf("the redirecting mirror sent %d blob bytes itself, want 0", n)
	}

	// A blob the store does not hold yet is served by the mirror.
	fresh := hub.AddImage("library/fresh", "latest", pattern(200_001))
	r := b.get(t, "/v2/fresh/manifests/latest", "Accept", fullAccept)
	if r.status != http.StatusOK {
		t.Fatalf("manifest of a new image: %d", r.status)
	}
	resp := b.doNoFollow(t, http.MethodGet, "/v2/fresh/blobs/"+fresh.Layers[0].Digest)
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !bytes.Equal(body, fresh.Layers[0].Data) {
		t.Errorf("GET of a blob the store lacks: %d, %d bytes; want 200 and the blob from the mirror", resp.StatusCode, len(body))
	}

	families := b.storeMetrics(t)
	if got := counter(families, "hubmirror_store_redirects_total"); got != redirects {
		t.Errorf("hubmirror_store_redirects_total %d, want %d", got, redirects)
	}
	if logs := b.logs.String(); strings.Contains(logs, "X-Amz-Signature") || strings.Contains(logs, "Signature=") {
		t.Errorf("a presigned URL reached the log:\n%s", logs)
	}
}

// testNoRedirectWithoutTheSetting: a mirror without store_redirect serves every blob itself, and shows the
// store's counters; one without a store shows none (TestMetricsFormat).
func testNoRedirectWithoutTheSetting(t *testing.T, srv *s3server.Server) {
	storeURL, hub, img := seededStore(t, srv, "kept", 100_000)

	b := startMirrorCfg(t, hub, withStore(storeURL, false))
	resp := b.doNoFollow(t, http.MethodGet, "/v2/kept/blobs/"+img.Layers[0].Digest)
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !bytes.Equal(body, img.Layers[0].Data) {
		t.Errorf("GET without store_redirect: %d, %d bytes; want 200 and the blob", resp.StatusCode, len(body))
	}
	b.pull(t, "kept", img)
	// A download is counted when it is committed, just after its client
	// got the last byte.
	testutil.Eventually(t, "two downloads from the store", func() bool { return b.stats.store.RemoteHits.Load() >= 2 })
	families := b.storeMetrics(t)
	if got := counter(families, "hubmirror_store_blob_reads_total"); got != 2 {
		t.Errorf("hubmirror_store_blob_reads_total %d, want 2 (the config and the layer)", got)
	}
	if got, want := counter(families, "hubmirror_store_read_bytes_total"), img.Config.Size+img.Layers[0].Size; got != want {
		t.Errorf("hubmirror_store_read_bytes_total %d, want %d", got, want)
	}
	if got := counter(families, "hubmirror_store_record_reads_total"); got < 1 {
		t.Errorf("hubmirror_store_record_reads_total %d: the manifest came from the store", got)
	}
	if got := counter(families, "hubmirror_store_redirects_total"); got != 0 {
		t.Errorf("hubmirror_store_redirects_total %d, want 0", got)
	}
}

// testRedirectNeedsAccess: with self_auth, a blob is redirected to the store only for a user
// upstream lets read it: no user gets 401, another user the mirror's
// denial (404 NAME_UNKNOWN, as Docker Hub answers), and neither a URL.
func testRedirectNeedsAccess(t *testing.T, srv *s3server.Server) {
	storeURL := srv.URL(srv.NewBucket(t), "team")
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	hub.AddUser("bobby", "bobby-pw")
	secret := hub.AddImage("alice/secret", "v1", pattern(150_000))
	hub.SetPrivate("alice/secret", "alice")
	selfAuth := func(c *Config) { c.Access = Access{SelfAuth: true} }

	a := startMirrorCfg(t, hub, func(c *Config) { withStore(storeURL, false)(c); selfAuth(c) })
	_, aliceA := a.login(t, "alice", "alice-pw", "alice/secret")
	if got := a.pullWith(t, aliceA, "alice/secret", secret); got != http.StatusOK {
		t.Fatalf("alice pulls her image: %d", got)
	}
	a.stopUploaded(t, 2)

	b := startMirrorCfg(t, hub, func(c *Config) { withStore(storeURL, true)(c); selfAuth(c) })
	path := "/v2/alice/secret/blobs/" + secret.Layers[0].Digest
	_, bob := b.login(t, "bobby", "bobby-pw", "alice/secret")
	for _, tc := range []struct {
		who    string
		header []string
		want   []int
	}{
		{"nobody", nil, []int{http.StatusUnauthorized}},
		// Upstream's denial is told as the mirror tells it for any
		// blob: the repository is unknown to this user.
		{"bobby", []string{"Authorization", "Bearer " + bob}, []int{http.StatusForbidden, http.StatusNotFound}},
	} {
		resp := b.doNoFollow(t, http.MethodGet, path, tc.header...)
		if !slices.Contains(tc.want, resp.StatusCode) {
			body, _ := io.ReadAll(resp.Body)
			t.Errorf("%s GET %s: %d, want one of %v: %s", tc.who, path, resp.StatusCode, tc.want, body)
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("%s was sent to the store (a Location of %d bytes)", tc.who, len(loc))
		}
	}
	_, alice := b.login(t, "alice", "alice-pw", "alice/secret")
	resp := b.doNoFollow(t, http.MethodGet, path, "Authorization", "Bearer "+alice)
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("alice GET %s: %d, want 307", path, resp.StatusCode)
	}
	if st, body := getURL(t, resp.Header.Get("Location"), ""); st != http.StatusOK || !bytes.Equal(body, secret.Layers[0].Data) {
		t.Errorf("alice's URL: %d, %d bytes", st, len(body))
	}
	if got := b.stats.storeRedirects.Load(); got != 1 {
		t.Errorf("%d redirects, want alice's 1", got)
	}
}

// testBlobHeadFromStoreOffline: a mirror with an empty cache directory
// answers a blob HEAD from the
// store when upstream cannot be reached, and, once the registry is known
// to be down, without asking it.
func testBlobHeadFromStoreOffline(t *testing.T, srv *s3server.Server) {
	storeURL, hub, img := seededStore(t, srv, "offline", 120_000)

	hub.SetDown(true)
	c := startMirrorCfg(t, hub, withStore(storeURL, false))
	layer := img.Layers[0]
	path := "/v2/offline/blobs/" + layer.Digest
	head := func(what string) {
		t.Helper()
		r := c.do(t, http.MethodHead, path)
		if r.status != http.StatusOK || r.header.Get("Content-Length") != strconv.FormatInt(layer.Size, 10) || r.header.Get("Docker-Content-Digest") != layer.Digest {
			t.Errorf("HEAD %s: %d, Content-Length %q, digest %q; want 200, %d and %s",
				what, r.status, r.header.Get("Content-Length"), r.header.Get("Docker-Content-Digest"), layer.Size, layer.Digest)
		}
	}
	head("with upstream unreachable")
	if r := c.do(t, http.MethodHead, "/v2/offline/blobs/"+digest.FromString("not in the store").String()); r.status == http.StatusOK {
		t.Errorf("HEAD of a blob neither the store nor upstream has: 200")
	}

	// Two failed revalidations of the tag mark the registry down.
	for range 2 {
		if r := c.get(t, "/v2/offline/manifests/latest", "Accept", fullAccept); r.status != http.StatusOK {
			t.Fatalf("offline manifest from the store: %d", r.status)
		}
	}
	if down, _ := c.upstreams[dockerHub].client.Degraded(); !down {
		t.Fatal("the registry is not marked down after two failed revalidations")
	}
	hub.ResetCounters()
	head("with the registry marked down")
	for _, req := range hub.Requests() {
		if strings.Contains(req.Path, "/blobs/") {
			t.Errorf("a HEAD with the registry marked down asked upstream: %s %s", req.Method, req.Path)
		}
	}
}
