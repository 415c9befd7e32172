package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// bucketBlobs are the blobs under prefix/blobs/ in a bucket: size by
// digest ("sha256:<hex>").
func bucketBlobs(t *testing.T, srv *s3server.Server, bucket, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for o := range srv.Client().ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix + "/blobs/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		parts := strings.Split(o.Key, "/")
		out[parts[len(parts)-3]+":"+parts[len(parts)-1]] = o.Size
	}
	return out
}

// total adds up the sizes of blobs.
func total(blobs map[string]int64) int64 {
	var n int64
	for _, s := range blobs {
		n += s
	}
	return n
}

// TestStoreMaxBoundsTheBucket runs two `hubmirror serve` with --store-max
// on one bucket of a real S3 server (SeaweedFS), the store's room for a
// pinned image and three layers. Five layers pulled through both in turn
// leave the bucket under its bound: every blob is younger than the grace,
// so the fourth and fifth layers are not uploaded (each mirror says so)
// and are still served; the images' small configs are. `cache prune` on the store then keeps the young blobs by
// default, and with --grace 0 removes all but the pinned image's.
func TestStoreMaxBoundsTheBucket(t *testing.T) {
	srv, bucket, storeURL, hub := newTeamStore(t)
	pinned := hub.AddImage("library/pinned", "1", randomBytes(4_000, 60))
	const layerSize = 100_000
	var images []*coldImage
	var configs []fakehub.Blob
	for i := range 5 {
		repo := fmt.Sprintf("library/big%d", i)
		img := hub.AddImage(repo, "latest", randomBytes(layerSize, byte(70+i)))
		images = append(images, &coldImage{hub: hub, repo: repo, layers: img.Layers, size: layerSize})
		configs = append(configs, img.Config)
	}
	pinnedBytes := pinned.Layers[0].Size + pinned.Config.Size
	bound := pinnedBytes + 3*layerSize + layerSize/2
	args := []string{"--store", storeURL, "--store-max", fmt.Sprint(bound)}
	a := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), args...)
	b := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), args...)

	if out, code := hubmirror(t, storeEnv(t), "", "pin", "add", "--config", a.ConfigPath, "pinned:1"); code != 0 {
		t.Fatalf("pin add: exit %d: %s", code, out)
	}
	inBucket := func(d string) bool { _, ok := bucketBlobs(t, srv, bucket, "team")[d]; return ok }
	testutil.Eventually(t, "the pinned image in the bucket", func() bool {
		return inBucket(pinned.Layers[0].Digest) && inBucket(pinned.Config.Digest)
	})
	testutil.Eventually(t, "the first mirror's pin record in the bucket", func() bool {
		for o := range srv.Client().ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: "team/pins/", Recursive: true}) {
			if o.Err == nil && strings.HasSuffix(o.Key, ".json") {
				return true
			}
		}
		return false
	})

	ctx := context.Background()
	client := newHTTPClient(1)
	t.Cleanup(client.CloseIdleConnections)
	mirrors := []*mirror{a, b}
	for i, im := range images {
		m := mirrors[i%2]
		if err := im.pullMirror(ctx, client, m.Addr); err != nil {
			t.Fatalf("pull %s through mirror %d: %v", im.repo, i%2, err)
		}
		if err := fetchMirrorBlob(ctx, client, m.Addr, im.repo, configs[i].Digest, configs[i].Size); err != nil {
			t.Fatalf("config of %s through mirror %d: %v", im.repo, i%2, err)
		}
		testutil.Eventually(t, im.repo+"'s config in the bucket", func() bool { return inBucket(configs[i].Digest) })
		if i < 3 {
			testutil.Eventually(t, im.repo+"'s layer in the bucket", func() bool { return inBucket(im.layers[0].Digest) })
		}
	}
	for i, m := range mirrors {
		testutil.Eventually(t, fmt.Sprintf("mirror %d saying the store is full", i), func() bool {
			return strings.Contains(m.log.String(), "the store is full (store_max)")
		})
	}
	blobs := bucketBlobs(t, srv, bucket, "team")
	if n := total(blobs); n > bound {
		t.Errorf("the bucket holds %d bytes of blobs, over --store-max %d", n, bound)
	}
	for _, im := range images[3:] {
		if _, ok := blobs[im.layers[0].Digest]; ok {
			t.Errorf("%s's layer was uploaded into a full store", im.repo)
		}
	}

	prune := func(grace ...string) string {
		t.Helper()
		cmd := append([]string{"cache", "prune", "--to", "0", "--yes", "--store", storeURL,
			"--config", filepath.Join(t.TempDir(), "settings.json"), "--cache-dir", t.TempDir()}, grace...)
		out, code := hubmirror(t, storeEnv(t), "", cmd...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", cmd, code, out)
		}
		return out
	}
	// Not without --yes, when it cannot ask: the store is every mirror's.
	if out, code := hubmirror(t, storeEnv(t), "", "cache", "prune", "--to", "0", "--store", storeURL,
		"--config", filepath.Join(t.TempDir(), "settings.json"), "--cache-dir", t.TempDir()); code == 0 || !strings.Contains(out, "--yes") {
		t.Errorf("cache prune on the store without --yes and without a terminal: exit %d, %s", code, out)
	}
	if out := prune(); !strings.Contains(out, "Removed 0 blobs") || !strings.Contains(out, "On the store") {
		t.Errorf("cache prune --to 0 on the store, blobs all used within the grace:\n%s", out)
	}
	if got := total(bucketBlobs(t, srv, bucket, "team")); got != total(blobs) {
		t.Errorf("the default grace let prune take the bucket from %d to %d bytes", total(blobs), got)
	}
	// Every blob but the pinned image's goes: three layers, five configs.
	if out := prune("--grace", "0"); !strings.Contains(out, "Removed 8 blobs") {
		t.Errorf("cache prune --to 0 --grace 0 on the store:\n%s", out)
	}
	left := bucketBlobs(t, srv, bucket, "team")
	if _, ok := left[pinned.Layers[0].Digest]; !ok || len(left) != 2 || total(left) != pinnedBytes {
		t.Errorf("after prune --grace 0 the bucket holds %v, want the pinned image's layer and config only", left)
	}
}
