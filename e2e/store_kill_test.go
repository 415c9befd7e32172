package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// killLayerMiB is the size of the layer TestKilledMidUploadLeavesNoBlob
// uploads, and killUploadRate the pace of its upload: 16 s, a window
// wide enough to see the upload in progress and kill the mirror in it.
const (
	killLayerMiB   = 128
	killUploadRate = 8 << 20
)

// TestKilledMidUploadLeavesNoBlob kills `hubmirror serve --store s3://…`
// with SIGKILL while it uploads a verified 128 MiB layer to the store (a
// real SeaweedFS, behind a proxy that paces the upload): the client has
// had every byte, and the store holds a multipart upload of the layer
// under uploads/ with parts in it. After the kill nothing is under the
// layer's digest key, and nothing partial anywhere under blobs/ (no
// object that is not its digest, no unfinished multipart upload). A
// restart on the same cache directory serves the layer from its cache
// and, finding the store without it, uploads it: the right bytes under
// the digest key, which a fresh instance with an empty cache directory
// then reads instead of upstream.
func TestKilledMidUploadLeavesNoBlob(t *testing.T) {
	srv := s3server.Start(t)
	bucket := srv.NewBucket(t)
	const prefix = "team"
	slow := srv.Proxy(t, killUploadRate)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	layer, err := hub.AddBlobFile(benchBlobFile(t, killLayerMiB, "store kill layer"))
	if err != nil {
		t.Fatal(err)
	}
	im := &coldImage{hub: hub, repo: "library/big", layers: []fakehub.Blob{layer}, size: layer.Size}
	hub.AddImageWithBlobs(im.repo, "latest", layer)
	key := prefix + "/blobs/sha256/" + layer.Digest[7:9] + "/" + layer.Digest[7:]
	ctx := context.Background()
	client := newHTTPClient(1)
	t.Cleanup(client.CloseIdleConnections)
	cacheDir := filepath.Join(t.TempDir(), "cache")

	m := startMirrorEnv(t, hub.URL(), cacheDir, storeEnv(t), "--store", slow.URL(bucket, prefix))
	if err := im.pullMirror(ctx, client, m.Addr); err != nil {
		t.Fatalf("the first pull: %v", err)
	}
	// The client has every byte; the upload to the store runs after that.
	var inProgress s3server.Upload
	testutil.Eventually(t, "the layer's upload to the store in progress, with a part in", func() bool {
		ups, err := srv.Uploads(ctx, bucket, prefix+"/")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups {
			if u.Parts > 0 {
				inProgress = u
				return true
			}
		}
		return false
	})
	m.kill(t)
	t.Logf("killed with %d of %d bytes uploaded to %s", inProgress.Bytes, layer.Size, inProgress.Key)

	// The kill was in the middle: the upload is still there, unfinished.
	ups, err := srv.Uploads(ctx, bucket, prefix+"/")
	if err != nil {
		t.Fatal(err)
	}
	if !hasUpload(ups, inProgress.UploadID) {
		t.Fatalf("the upload %s seen before the kill was finished or aborted (uploads now: %+v): the kill came too late to test anything", inProgress.UploadID, ups)
	}
	if !strings.HasPrefix(inProgress.Key, prefix+"/uploads/") {
		t.Errorf("the layer was being uploaded to %s, not to a temporary key under %s/uploads/", inProgress.Key, prefix)
	}
	if _, err := srv.Client().StatObject(ctx, bucket, key, minio.StatObjectOptions{}); !isNoSuchKey(err) {
		t.Errorf("after the kill, stat of the layer's key %s: %v; want NoSuchKey", key, err)
	}
	checkBlobsComplete(t, srv, bucket, prefix)

	// A restart on the same cache directory has the layer in its cache.
	hub.ResetCounters()
	again := startMirrorEnv(t, hub.URL(), cacheDir, storeEnv(t), "--store", srv.URL(bucket, prefix))
	if err := im.pullMirror(ctx, client, again.Addr); err != nil {
		t.Fatalf("pull after the restart: %v", err)
	}
	if c := hub.Counters(); c.CDNGets != 0 {
		t.Errorf("the restarted mirror took the layer from upstream (%d CDN GETs): its cache had it", c.CDNGets)
	}
	// It served the layer, which the store lacks: its daily last-use stamp
	// finds that out and uploads its copy, verified.
	testutil.Eventually(t, "the restarted mirror's upload of the layer it had cached", func() bool {
		_, err := srv.Client().StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		return err == nil
	})
	again.stop(t)
	if err := objectDigest(ctx, srv, bucket, key, layer.Digest, layer.Size); err != nil {
		t.Error(err)
	}
	checkBlobsComplete(t, srv, bucket, prefix)

	// A fresh instance with an empty cache directory reads it from the
	// store, not upstream.
	hub.ResetCounters()
	fresh := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", srv.URL(bucket, prefix))
	if err := im.pullMirror(ctx, client, fresh.Addr); err != nil {
		t.Fatalf("pull through a fresh instance: %v", err)
	}
	if c := hub.Counters(); c.CDNBytesByDigest[layer.Digest] != 0 {
		t.Errorf("the fresh instance took %d bytes of the layer from upstream, want 0: the store has it", c.CDNBytesByDigest[layer.Digest])
	}
	testutil.Eventually(t, "the layer under its digest key", func() bool {
		_, err := srv.Client().StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		return err == nil
	})
	if err := objectDigest(ctx, srv, bucket, key, layer.Digest, layer.Size); err != nil {
		t.Error(err)
	}
	checkBlobsComplete(t, srv, bucket, prefix)
}

// hasUpload reports whether ups holds the upload id.
func hasUpload(ups []s3server.Upload, id string) bool {
	for _, u := range ups {
		if u.UploadID == id {
			return true
		}
	}
	return false
}

// isNoSuchKey reports whether err is S3's answer for a missing object.
func isNoSuchKey(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && resp.Code == "NoSuchKey"
}

// checkBlobsComplete fails t if anything under prefix/blobs/ in bucket is
// partial: an object whose bytes are not the digest its key names, or a
// multipart upload not finished.
func checkBlobsComplete(t *testing.T, srv *s3server.Server, bucket, prefix string) {
	t.Helper()
	ctx := context.Background()
	for o := range srv.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix + "/blobs/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		d := "sha256:" + o.Key[strings.LastIndex(o.Key, "/")+1:]
		if err := objectDigest(ctx, srv, bucket, o.Key, d, -1); err != nil {
			t.Errorf("partial or wrong object under blobs/: %v", err)
		}
	}
	ups, err := srv.Uploads(ctx, bucket, prefix+"/blobs/")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		t.Errorf("an unfinished multipart upload under blobs/: %s (%d parts, %d bytes)", u.Key, u.Parts, u.Bytes)
	}
}

// objectDigest reads the object under key back and checks that it has
// size bytes (any, when size < 0) hashing to digest.
func objectDigest(ctx context.Context, srv *s3server.Server, bucket, key, digest string, size int64) error {
	r, err := srv.Client().GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fmt.Errorf("read %s after %d bytes: %w", key, n, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%s has %d bytes, want %d", key, n, size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("%s (%d bytes) hashes to %s, not %s", key, n, got, digest)
	}
	return nil
}
