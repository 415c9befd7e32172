package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// The tests of the store behind the cache run against a real
// S3-compatible server (SeaweedFS, package s3server), one per package run.
func TestMain(m *testing.M) { os.Exit(s3server.Run(m)) }

// storePrefix is where the tests' stores keep their objects in their
// buckets.
const storePrefix = "team/cache"

// testStore is a store on a bucket of the test's own, with the means to
// look at and change the bucket behind the code under test.
type testStore struct {
	*objstore.Store
	srv    *s3server.Server
	bucket string
}

// newTestStore opens a store on a new bucket of the shared server.
func newTestStore(t testing.TB) testStore {
	t.Helper()
	srv := s3server.Shared(t)
	bucket := srv.NewBucket(t)
	cfg, err := objstore.ParseURL(srv.URL(bucket, storePrefix))
	if err != nil {
		t.Fatal(err)
	}
	s, err := objstore.Open(context.Background(), cfg, objstore.Static(objstore.Keys{AccessKeyID: s3server.AccessKey, SecretAccessKey: s3server.SecretKey}))
	if err != nil {
		t.Fatal(err)
	}
	return testStore{Store: s, srv: srv, bucket: bucket}
}

// object is the bytes under key, read straight from the bucket; nil when
// there is no object.
func (s testStore) object(t testing.TB, key string) []byte {
	t.Helper()
	ctx := context.Background()
	obj, err := s.srv.Client().GetObject(ctx, s.bucket, storePrefix+"/"+key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// overwrite puts data under key straight into the bucket, as damage or
// another program would.
func (s testStore) overwrite(t testing.TB, key string, data []byte) {
	t.Helper()
	_, err := s.srv.Client().PutObject(context.Background(), s.bucket, storePrefix+"/"+key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// uploadsLeft counts what is in the store's uploads directory.
func (s testStore) uploadsLeft(t testing.TB) int {
	t.Helper()
	n := 0
	for _, err := range s.List(context.Background(), objstore.UploadsDir) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// instance is one mirror's cache and blob store, on a cache directory of
// its own, with a store behind it.
type instance struct {
	c      *Cache
	b      *Blobs
	st     *Stats
	cancel context.CancelFunc // stops the downloads and uploads
}

// newInstance opens a fresh cache directory in front of remote.
func newInstance(t testing.TB, remote Remote, max int64, cfg BlobsConfig) *instance {
	t.Helper()
	st := new(Stats)
	log := slog.New(slog.DiscardHandler)
	c := openCache(t, t.TempDir(), Options{Max: max, Stats: st, Remote: remote, Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Log, cfg.Tuning = log, testTuning
	b := NewBlobs(ctx, c, cfg)
	t.Cleanup(func() { cancel(); b.Wait() })
	return &instance{c: c, b: b, st: st, cancel: cancel}
}

// pull reads d through in as a client would, from the cache, the store
// or up, and waits for the download and the upload it started.
func (in *instance) pull(t *testing.T, d digest.Digest, up OpenFunc) ([]byte, error) {
	t.Helper()
	got, err := read(t, in.b, d, up)
	in.b.Wait()
	return got, err
}

// unreachable is an upstream that cannot be reached, as offline.
func unreachable(context.Context, int64, int64) (Body, error) {
	return Body{}, oci.ErrUnreachable
}

// countingRemote counts a store's ranged reads.
type countingRemote struct {
	Remote
	gets atomic.Int64
}

func (c *countingRemote) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Remote.Get(ctx, key, off, n)
}

// A second mirror on the same store gets a blob the first fetched from
// the store, not upstream: the right bytes, kept in its own directory,
// and not uploaded again. A large blob comes over parallel ranged GETs.
func TestStoreServesTheSecondInstance(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		cfg  BlobsConfig
		gets int64 // ranged reads of the store by the second instance
	}{
		{"one request", 300_000, BlobsConfig{}, 1},
		{"ranges", 1 << 20, BlobsConfig{DownloadConnections: 4, DownloadChunk: 128 << 10, SegmentThreshold: 128 << 10}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			data := pattern(tc.size, 3)
			d := digest.FromBytes(data)
			a := newInstance(t, s, 0, tc.cfg)
			upA := &fakeUpstream{data: data}
			if got, err := a.pull(t, d, upA.open); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("first instance: %d bytes, %v", len(got), err)
			}
			if a.st.RemoteUploads.Load() != 1 || a.st.RemoteHits.Load() != 0 || a.st.UpstreamBytes.Load() != int64(tc.size) {
				t.Errorf("first instance: uploads %d, store hits %d, upstream bytes %d", a.st.RemoteUploads.Load(), a.st.RemoteHits.Load(), a.st.UpstreamBytes.Load())
			}
			if !bytes.Equal(s.object(t, blobKey(d)), data) {
				t.Fatalf("the store does not hold the blob under %s", blobKey(d))
			}

			counted := &countingRemote{Remote: s}
			b := newInstance(t, counted, 0, tc.cfg)
			upB := &fakeUpstream{data: data}
			br, err := b.b.Open(context.Background(), d, upB.open)
			if err != nil {
				t.Fatal(err)
			}
			if !br.FromStore() {
				t.Errorf("the reader does not say it reads from the store")
			}
			var got bytes.Buffer
			_, err = br.CopyTo(context.Background(), &got, 0, -1)
			br.Close()
			b.b.Wait()
			if err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("second instance: %d bytes, %v", got.Len(), err)
			}
			if r := upB.requests(); len(r) != 0 {
				t.Errorf("second instance asked upstream from %v; want no request", r)
			}
			if b.st.RemoteHits.Load() != 1 || b.st.RemoteBytes.Load() != int64(tc.size) || b.st.UpstreamBytes.Load() != 0 || b.st.RemoteUploads.Load() != 0 {
				t.Errorf("second instance: store hits %d, store bytes %d, upstream bytes %d, uploads %d",
					b.st.RemoteHits.Load(), b.st.RemoteBytes.Load(), b.st.UpstreamBytes.Load(), b.st.RemoteUploads.Load())
			}
			if n := counted.gets.Load(); n != tc.gets {
				t.Errorf("second instance read the store in %d requests, want %d", n, tc.gets)
			}
			if kept, err := os.ReadFile(b.c.blobPath(d)); err != nil || !bytes.Equal(kept, data) {
				t.Errorf("second instance did not keep the blob: %v", err)
			}
		})
	}
}

// A store object that does not match its digest is refused by the
// download's check and not kept; it is deleted from the store, and the
// next request fetches the blob from upstream and puts the right bytes
// back.
func TestStoreDamagedObjectIsRefused(t *testing.T) {
	s := newTestStore(t)
	data := pattern(200_000, 4)
	d := digest.FromBytes(data)
	a := newInstance(t, s, 0, BlobsConfig{})
	if _, err := a.pull(t, d, (&fakeUpstream{data: data}).open); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 0xff
	s.overwrite(t, blobKey(d), bad)

	b := newInstance(t, s, 0, BlobsConfig{})
	up := &fakeUpstream{data: data}
	if _, err := b.pull(t, d, up.open); !errors.Is(err, oci.ErrDigestMismatch) {
		t.Fatalf("damaged store object: read error %v, want a digest mismatch", err)
	}
	if exists(b.c.blobPath(d)) {
		t.Errorf("the damaged blob was kept")
	}
	if len(up.requests()) != 0 || b.st.RemoteDamaged.Load() != 1 || b.st.RemoteHits.Load() != 0 {
		t.Errorf("upstream requests %v, damaged %d, hits %d", up.requests(), b.st.RemoteDamaged.Load(), b.st.RemoteHits.Load())
	}
	if obj := s.object(t, blobKey(d)); obj != nil {
		t.Errorf("the damaged object is still in the store")
	}

	got, err := b.pull(t, d, up.open)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after the damage: %d bytes, %v", len(got), err)
	}
	if len(up.requests()) != 1 || b.st.RemoteUploads.Load() != 1 {
		t.Errorf("after the damage: upstream requests %v, uploads %d", up.requests(), b.st.RemoteUploads.Load())
	}
	if !bytes.Equal(s.object(t, blobKey(d)), data) {
		t.Errorf("the store does not hold the right bytes again")
	}
}

// A blob enters the store only after its digest was verified: a
// download whose bytes do not match uploads nothing, and an upload whose
// bytes change under it (the file, after the download's check) is
// refused before it appears under the key.
func TestStoreTakesOnlyVerifiedBlobs(t *testing.T) {
	s := newTestStore(t)
	t.Run("download", func(t *testing.T) {
		data := pattern(100_000, 5)
		d := digest.FromBytes(pattern(100_000, 6)) // upstream sends other bytes
		in := newInstance(t, s, 0, BlobsConfig{})
		if _, err := in.pull(t, d, (&fakeUpstream{data: data}).open); !errors.Is(err, oci.ErrDigestMismatch) {
			t.Fatalf("read error %v, want a digest mismatch", err)
		}
		if _, err := s.Stat(context.Background(), blobKey(d)); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("stat of the blob's key: %v, want not found", err)
		}
		if in.st.RemoteUploads.Load() != 0 || in.st.RemoteUploadFailures.Load() != 0 || s.uploadsLeft(t) != 0 {
			t.Errorf("uploads %d, failures %d, left in uploads/ %d", in.st.RemoteUploads.Load(), in.st.RemoteUploadFailures.Load(), s.uploadsLeft(t))
		}
	})
	t.Run("upload", func(t *testing.T) {
		data := pattern(100_000, 7)
		d := digest.FromBytes(data)
		in := newInstance(t, s, 0, BlobsConfig{})
		in.b.uploadReader = func(r io.Reader) io.Reader { return &flipReader{r: r, at: 50_000} }
		if got, err := in.pull(t, d, (&fakeUpstream{data: data}).open); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		if _, err := s.Stat(context.Background(), blobKey(d)); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("stat of the blob's key: %v, want not found", err)
		}
		if in.st.RemoteUploads.Load() != 0 || in.st.RemoteUploadFailures.Load() != 1 {
			t.Errorf("uploads %d, failures %d", in.st.RemoteUploads.Load(), in.st.RemoteUploadFailures.Load())
		}
		if !exists(in.c.blobPath(d)) {
			t.Errorf("the local copy went with the failed upload")
		}
	})
}

// flipReader changes the byte at offset at of what it reads.
type flipReader struct {
	r   io.Reader
	at  int64
	pos int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		p[f.at-f.pos] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}

// stopReader stops the mirror (cancels its context) once an upload has
// read after bytes, and fails from then on, as a mirror killed mid-upload.
type stopReader struct {
	r     io.Reader
	after int64
	read  int64
	stop  context.CancelFunc
}

func (s *stopReader) Read(p []byte) (int, error) {
	if s.read >= s.after {
		s.stop()
		return 0, context.Canceled
	}
	p = p[:min(int64(len(p)), s.after-s.read)]
	n, err := s.r.Read(p)
	s.read += int64(n)
	return n, err
}

// A mirror stopped in the middle of an upload leaves nothing under the
// blob's key; its own copy stays, and another mirror that misses fetches
// the blob from upstream and stores it.
func TestStoreUploadStoppedMidway(t *testing.T) {
	s := newTestStore(t)
	data := pattern(400_000, 8)
	d := digest.FromBytes(data)
	a := newInstance(t, s, 0, BlobsConfig{})
	a.b.uploadReader = func(r io.Reader) io.Reader { return &stopReader{r: r, after: 150_000, stop: a.cancel} }
	if got, err := a.pull(t, d, (&fakeUpstream{data: data}).open); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if _, err := s.Stat(context.Background(), blobKey(d)); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("stat of the blob's key after the stopped upload: %v, want not found", err)
	}
	if a.st.RemoteUploads.Load() != 0 || a.st.RemoteUploadFailures.Load() != 1 {
		t.Errorf("uploads %d, failures %d", a.st.RemoteUploads.Load(), a.st.RemoteUploadFailures.Load())
	}
	if !exists(a.c.blobPath(d)) {
		t.Errorf("the local copy went with the stopped upload")
	}

	b := newInstance(t, s, 0, BlobsConfig{})
	up := &fakeUpstream{data: data}
	if got, err := b.pull(t, d, up.open); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("next mirror: %d bytes, %v", len(got), err)
	}
	if len(up.requests()) != 1 || b.st.RemoteUploads.Load() != 1 || !bytes.Equal(s.object(t, blobKey(d)), data) {
		t.Errorf("next mirror: upstream requests %v, uploads %d", up.requests(), b.st.RemoteUploads.Load())
	}
}

// cache_max bounds the directory with a store behind it: blobs evicted
// here come back from the store, not upstream; a blob larger than
// cache_max is served, not kept, and still uploaded.
func TestStoreCacheMaxBoundsTheDirectory(t *testing.T) {
	s := newTestStore(t)
	const size, max = 100_000, 250_000
	a := newInstance(t, s, max/5, BlobsConfig{}) // too small for any of them
	var blobs [][]byte
	for i := range 4 {
		data := pattern(size, 10+i)
		blobs = append(blobs, data)
		if got, err := a.pull(t, digest.FromBytes(data), (&fakeUpstream{data: data}).open); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("blob %d through the first mirror: %v", i, err)
		}
	}
	if a.st.RemoteUploads.Load() != 4 || a.c.Size() != 0 {
		t.Errorf("first mirror: uploads %d, kept %d bytes; want 4 uploads, nothing kept", a.st.RemoteUploads.Load(), a.c.Size())
	}
	if left, _ := os.ReadDir(a.c.tmpDir()); len(left) != 0 {
		t.Errorf("temp files left after the uploads: %d", len(left))
	}

	b := newInstance(t, s, max, BlobsConfig{})
	for round := range 2 {
		for i, data := range blobs {
			up := &fakeUpstream{data: data}
			if got, err := b.pull(t, digest.FromBytes(data), up.open); err != nil || !bytes.Equal(got, data) || len(up.requests()) != 0 {
				t.Fatalf("round %d, blob %d: %v, upstream requests %v", round, i, err, up.requests())
			}
			if n := b.c.Size(); n > max {
				t.Fatalf("round %d, blob %d: %d bytes kept, over cache_max %d", round, i, n, max)
			}
		}
	}
	if n := dirBytes(t, filepath.Join(b.c.Dir(), "blobs")); n > max {
		t.Errorf("%d bytes of blob files, over cache_max %d", n, max)
	}
	if b.st.RemoteHits.Load() != 8 {
		t.Errorf("store hits %d, want 8", b.st.RemoteHits.Load())
	}
}

// dirBytes adds up the files under dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Concurrent misses of one blob on one mirror make one download from the
// store, which every client reads.
func TestStoreOneReadForConcurrentMisses(t *testing.T) {
	s := newTestStore(t)
	data := pattern(500_000, 9)
	d := digest.FromBytes(data)
	a := newInstance(t, s, 0, BlobsConfig{})
	if _, err := a.pull(t, d, (&fakeUpstream{data: data}).open); err != nil {
		t.Fatal(err)
	}
	counted := &countingRemote{Remote: s}
	b := newInstance(t, counted, 0, BlobsConfig{})
	up := &fakeUpstream{data: data}
	const clients = 8
	errs := make(chan error, clients)
	for range clients {
		go func() {
			got, err := read(t, b.b, d, up.open)
			if err == nil && !bytes.Equal(got, data) {
				err = errors.New("wrong bytes")
			}
			errs <- err
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	b.b.Wait()
	if n := counted.gets.Load(); n < 1 || b.st.RemoteHits.Load() != 1 || b.st.RemoteBytes.Load() != int64(len(data)) || len(up.requests()) != 0 {
		t.Errorf("%d store reads, %d hits, %d store bytes, upstream requests %v; want one download from the store",
			n, b.st.RemoteHits.Load(), b.st.RemoteBytes.Load(), up.requests())
	}
}
