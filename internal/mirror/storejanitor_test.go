package mirror

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// cleanUploads removes what a killed upload left under uploads/ (a
// temporary object and an unfinished multipart upload) once it is older
// than its age, and nothing else.
func testCleanUploads(t *testing.T, srv *s3server.Server) {
	ctx := context.Background()
	bucket := srv.NewBucket(t)
	remote, err := objstore.Open(ctx, mustParseStore(t, srv.URL(bucket, "team")),
		objstore.Static(objstore.Keys{AccessKeyID: s3server.AccessKey, SecretAccessKey: s3server.SecretKey}))
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	put := func(key string) {
		t.Helper()
		if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("team/uploads/leftover")
	put("team/blobs/sha256/ab/kept")
	core := minio.Core{Client: c}
	if _, err := core.NewMultipartUpload(ctx, bucket, "team/uploads/cut", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// left counts the objects and unfinished uploads under uploads/; an
	// error is the listing racing the janitor's abort of an upload (its
	// parts are gone between the two requests), and counts as not yet.
	left := func() (int, error) {
		n := 0
		for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "team/uploads/", Recursive: true}) {
			if o.Err != nil {
				return 0, o.Err
			}
			n++
		}
		ups, err := srv.Uploads(ctx, bucket, "team/uploads/")
		return n + len(ups), err
	}
	if n, err := left(); n != 2 || err != nil {
		t.Fatalf("%d leftovers set up (%v), want 2", n, err)
	}

	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cleanUploads(jctx, remote, slog.New(slog.DiscardHandler), 0, time.Hour)
	}()
	testutil.Eventually(t, "the leftovers under uploads/ removed", func() bool {
		n, err := left()
		return err == nil && n == 0
	})
	cancel()
	<-done // it ends with its context
	if _, err := c.StatObject(ctx, bucket, "team/blobs/sha256/ab/kept", minio.StatObjectOptions{}); err != nil {
		t.Errorf("an object outside uploads/ went too: %v", err)
	}
}

// mustParseStore parses a store URL of the test server.
func mustParseStore(t *testing.T, raw string) objstore.Config {
	t.Helper()
	cfg, err := objstore.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
