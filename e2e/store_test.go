package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// TestTwoInstancesShareAStore runs two `hubmirror serve` on one bucket of
// a real S3 server (SeaweedFS), each with a cache directory of its own, as
// a team's replicas behind a load balancer would: the second serves an
// image the first cached without a blob from upstream, and a third, with
// an empty cache directory and Docker Hub down, serves the tag from the
// store alone.
func TestTwoInstancesShareAStore(t *testing.T) {
	srv, bucket, storeURL, hub := newTeamStore(t)
	im := &coldImage{hub: hub, repo: "library/shared"}
	for i, size := range []int{3<<20 + 11, 40_000} {
		b := hub.AddBlob(randomBytes(size, byte(i+40)))
		im.layers = append(im.layers, b)
		im.size += b.Size
	}
	hub.AddImageWithBlobs(im.repo, "latest", im.layers...)
	ctx := context.Background()
	client := newHTTPClient(1)
	t.Cleanup(client.CloseIdleConnections)

	a := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL)
	if err := im.pullMirror(ctx, client, a.Addr); err != nil {
		t.Fatalf("pull through the first instance: %v", err)
	}
	if hub.Counters().CDNGets == 0 {
		t.Fatal("the first instance's cold pull took nothing from upstream")
	}
	// The first instance uploads what it verified after serving it.
	testutil.Eventually(t, "every layer in the bucket", func() bool {
		n := 0
		for o := range srv.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "team/blobs/", Recursive: true}) {
			for _, l := range im.layers {
				if o.Err == nil && strings.HasSuffix(o.Key, "/"+strings.TrimPrefix(l.Digest, "sha256:")) {
					n++
				}
			}
		}
		return n == len(im.layers)
	})

	hub.ResetCounters()
	b := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL)
	if err := im.pullMirror(ctx, client, b.Addr); err != nil {
		t.Fatalf("pull through the second instance: %v", err)
	}
	if c := hub.Counters(); c.CDNGets != 0 || c.BlobGets != 0 {
		t.Errorf("the second instance took %d registry blob GETs and %d CDN GETs from upstream, want 0: the store had every layer", c.BlobGets, c.CDNGets)
	}

	// Docker Hub goes away; a fresh instance still serves the tag.
	hub.SetDown(true)
	c := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL)
	if err := im.pullMirror(ctx, client, c.Addr); err != nil {
		t.Errorf("pull through a fresh instance with upstream down: %v", err)
	}
}

// newTeamStore is what the store tests start with: a real S3 server
// (SeaweedFS), a bucket of the test's own and its store URL under the
// prefix "team", and a fake Docker Hub, all stopped when the test ends.
func newTeamStore(t *testing.T) (srv *s3server.Server, bucket, storeURL string, hub *fakehub.Hub) {
	t.Helper()
	srv = s3server.Start(t)
	bucket = srv.NewBucket(t)
	hub = fakehub.New()
	t.Cleanup(hub.Close)
	return srv, bucket, srv.URL(bucket, "team"), hub
}

// storeEnv is an isolated environment with the test server's keys.
func storeEnv(tb testing.TB) []string {
	return isolatedEnv(tb, "AWS_ACCESS_KEY_ID="+s3server.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3server.SecretKey)
}
