package s3server

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestProxyAndUploads puts an object through a Proxy and reads it back
// from the server directly, then starts a multipart upload through the
// proxy and finds it, with its one part, in Uploads until it is aborted.
func TestProxyAndUploads(t *testing.T) {
	s := Shared(t)
	bucket := s.NewBucket(t)
	p := s.Proxy(t, 1<<30)
	_, portText, err := net.SplitHostPort(p.Endpoint[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	via, err := newClient(port, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // a part's minimum, 5 MiB
	if _, err := via.PutObject(ctx, bucket, "through/proxy", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put through the proxy: %v", err)
	}
	r, err := s.Client().GetObject(ctx, bucket, "through/proxy", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d put through the proxy", len(got), err, len(data))
	}

	if ups, err := s.Uploads(ctx, bucket, ""); err != nil || len(ups) != 0 {
		t.Fatalf("uploads of a bucket with none: %v, %v", ups, err)
	}
	core := minio.Core{Client: via}
	id, err := core.NewMultipartUpload(ctx, bucket, "up/half", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.PutObjectPart(ctx, bucket, "up/half", id, 1, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	ups, err := s.Uploads(ctx, bucket, "up/")
	if err != nil {
		t.Fatal(err)
	}
	want := Upload{Key: "up/half", UploadID: id, Parts: 1, Bytes: int64(len(data))}
	if len(ups) != 1 || ups[0] != want {
		t.Fatalf("uploads under up/: %+v, want [%+v]", ups, want)
	}
	if ups, err := s.Uploads(ctx, bucket, "other/"); err != nil || len(ups) != 0 {
		t.Errorf("uploads under other/: %+v, %v; want none (the prefix was not honoured)", ups, err)
	}
	if err := core.AbortMultipartUpload(ctx, bucket, "up/half", id); err != nil {
		t.Fatal(err)
	}
	if ups, err := s.Uploads(ctx, bucket, ""); err != nil || len(ups) != 0 {
		t.Errorf("uploads after the abort: %+v, %v; want none", ups, err)
	}
	p.Close()
	if _, err := via.StatObject(ctx, bucket, "through/proxy", minio.StatObjectOptions{}); err == nil {
		t.Error("a request through a closed proxy was answered")
	}
}

// TestPacerSpreadsBytes: pieces waited for together are given slots one
// after the other at the rate, and a pacer left idle does not save up.
func TestPacerSpreadsBytes(t *testing.T) {
	now := time.Unix(1000, 0)
	var slept []time.Duration
	p := &pacer{rate: 1000, now: func() time.Time { return now }, sleep: func(d time.Duration) { slept = append(slept, d) }}
	for range 3 {
		p.wait(500)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	if len(slept) != len(want) {
		t.Fatalf("slept %v, want %v", slept, want)
	}
	for i := range want {
		if slept[i] != want[i] {
			t.Fatalf("slept %v, want %v", slept, want)
		}
	}
	now = now.Add(time.Hour) // idle
	slept = nil
	p.wait(2000)
	if len(slept) != 1 || slept[0] != 2*time.Second {
		t.Errorf("after an hour idle, 2000 bytes at 1000/s slept %v, want [2s]", slept)
	}
}
