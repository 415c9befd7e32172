package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestStoreRedirectPull pulls an image with crane and with skopeo through
// a `hubmirror serve --store … --store-redirect` whose blobs are already
// in the store (a first instance put them there): the clients follow the
// mirror's 307s to presigned URLs of the store (SeaweedFS), the image
// arrives whole, upstream sees no blob GET, and the mirror sends no blob
// byte itself. With Docker Hub down, a third instance with an empty cache
// directory answers a blob HEAD from the store.
func TestStoreRedirectPull(t *testing.T) {
	srv, bucket, storeURL, hub := newTeamStore(t)
	img := hub.AddOCIImage("library/offload", "latest",
		fakehub.Layer(map[string]string{"data": string(randomBytes(2<<20+17, 61))}),
		fakehub.Layer(map[string]string{"etc/motd": "offloaded\n", "more": string(randomBytes(300_000, 62))}))
	blobs := append([]fakehub.Blob{img.Config}, img.Layers...)
	ctx := context.Background()
	cr := newCrane(t)
	sk := newSkopeo(t)
	ref := func(m *mirror) string { return m.Addr + "/library/offload:latest" }

	a := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL)
	if lc := readLayout(t, cr.pull(t, ref(a), "oci")); !sameSet(lc.Layers, layerDigests(img)) {
		t.Fatalf("crane through the first instance: layers %v, want %v", lc.Layers, layerDigests(img))
	}
	testutil.Eventually(t, "every blob in the bucket", func() bool {
		n := 0
		for o := range srv.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "team/blobs/", Recursive: true}) {
			for _, b := range blobs {
				if o.Err == nil && strings.HasSuffix(o.Key, "/"+strings.TrimPrefix(b.Digest, "sha256:")) {
					n++
				}
			}
		}
		return n == len(blobs)
	})

	hub.ResetCounters()
	b := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL, "--store-redirect")
	if lc := readLayout(t, cr.pull(t, ref(b), "oci")); !sameSet(lc.Layers, layerDigests(img)) || len(lc.Top) != 1 || lc.Top[0].Digest != img.Digest {
		t.Errorf("crane through the redirecting instance: %+v, want %s with layers %v", lc, img.Digest, layerDigests(img))
	}
	if lc := readLayout(t, sk.copyToLayout(t, ref(b), false)); !sameSet(lc.Layers, layerDigests(img)) || len(lc.Top) != 1 || lc.Top[0].Digest != img.Digest {
		t.Errorf("skopeo through the redirecting instance: %+v, want %s with layers %v", lc, img.Digest, layerDigests(img))
	}
	if c := hub.Counters(); c.BlobGets != 0 || c.CDNGets != 0 {
		t.Errorf("the redirecting instance made %d registry blob GETs and %d CDN GETs upstream, want 0", c.BlobGets, c.CDNGets)
	}
	metric := func(m *mirror, series string) float64 {
		t.Helper()
		v, err := scrapeSeries(ctx, m.URL("/metrics"), series)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// crane and skopeo each GET the config and every layer.
	if got, want := metric(b, "hubmirror_store_redirects_total"), float64(2*len(blobs)); got < want {
		t.Errorf("hubmirror_store_redirects_total %v, want at least %v", got, want)
	}
	for _, source := range []string{"cache", "upstream"} {
		series := `hubmirror_served_bytes_total{source="` + source + `"}`
		if got := metric(b, series); got != 0 {
			t.Errorf("%s %v: the redirecting instance sent blob bytes itself", series, got)
		}
	}
	// Fetch-ahead leaves the blobs the store holds to the store: their
	// clients are redirected there, so nothing is copied into the cache.
	if got := metric(b, "hubmirror_store_read_bytes_total"); got != 0 {
		t.Errorf("the redirecting instance read %v blob bytes from the store (fetch-ahead); want 0, its clients fetch them", got)
	}
	if strings.Contains(b.log.String(), "X-Amz-Signature") {
		t.Errorf("a presigned URL reached the redirecting instance's log")
	}

	hub.SetDown(true)
	c := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL)
	layer := img.Layers[0]
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.URL("/v2/library/offload/blobs/"+layer.Digest), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != strconv.FormatInt(layer.Size, 10) {
		t.Errorf("HEAD of a blob with Docker Hub down and an empty cache directory: %s, Content-Length %q; want 200 and %d from the store",
			resp.Status, resp.Header.Get("Content-Length"), layer.Size)
	}
}
