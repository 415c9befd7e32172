package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// fakeUpstream serves one blob to downloads through its open method, and
// records from which byte each request asked.
type fakeUpstream struct {
	data []byte
	// answer, when set, decides each answer: the n-th request (from 0)
	// for bytes from byte from. Without it every answer is right.
	answer func(n int, from int64) (Body, error)

	mu    sync.Mutex
	froms []int64
}

func (u *fakeUpstream) open(_ context.Context, from, _ int64) (Body, error) {
	u.mu.Lock()
	n := len(u.froms)
	u.froms = append(u.froms, from)
	u.mu.Unlock()
	if u.answer != nil {
		return u.answer(n, from)
	}
	return u.from(from), nil
}

// from is the right answer to a request from byte from.
func (u *fakeUpstream) from(from int64) Body {
	return Body{ReadCloser: io.NopCloser(bytes.NewReader(u.data[from:])), Start: from, Size: int64(len(u.data))}
}

// requests returns the bytes each request asked from.
func (u *fakeUpstream) requests() []int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]int64(nil), u.froms...)
}

// cutBody is a body that fails after its first n bytes.
func cutBody(b []byte, n int) io.ReadCloser {
	return io.NopCloser(io.MultiReader(bytes.NewReader(b[:n]), errReader{io.ErrUnexpectedEOF}))
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// testTuning resumes at once, so that tests wait for nothing.
var testTuning = Tuning{StallTimeout: time.Minute, MaxResumes: 3, ResumeDelay: time.Millisecond}

// newBlobs is a blob store on a fresh cache, with its figures in st.
func newBlobs(t *testing.T, tune Tuning, st *Stats) (*Blobs, *Cache) {
	t.Helper()
	c := openCache(t, t.TempDir(), Options{Stats: st})
	ctx, cancel := context.WithCancel(context.Background())
	b := NewBlobs(ctx, c, BlobsConfig{Log: slog.New(slog.DiscardHandler), Tuning: tune})
	t.Cleanup(func() { cancel(); b.Wait() })
	return b, c
}

// read opens d with open and reads it whole, as a client would.
func read(t *testing.T, b *Blobs, d digest.Digest, open OpenFunc) ([]byte, error) {
	t.Helper()
	br, err := b.Open(context.Background(), d, open)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	var out bytes.Buffer
	_, err = br.CopyTo(context.Background(), &out, 0, -1)
	return out.Bytes(), err
}

// A download cut by upstream resumes from the byte it got to; the blob
// is then cached, and the figures say what happened.
func TestDownloadResumesWhereCut(t *testing.T) {
	up := &fakeUpstream{data: pattern(100_000, 1)}
	up.answer = func(n int, from int64) (Body, error) {
		if n == 0 {
			return Body{ReadCloser: cutBody(up.data, 30_000), Start: 0, Size: int64(len(up.data))}, nil
		}
		return up.from(from), nil
	}
	var st Stats
	b, c := newBlobs(t, testTuning, &st)
	d := digest.FromBytes(up.data)
	got, err := read(t, b, d, up.open)
	if err != nil || !bytes.Equal(got, up.data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	b.Wait()
	if r := up.requests(); len(r) != 2 || r[0] != 0 || r[1] != 30_000 {
		t.Errorf("requests from %v, want [0 30000]", r)
	}
	if !exists(c.blobPath(d)) {
		t.Errorf("the resumed blob was not kept")
	}
	if st.UpstreamBytes.Load() != 100_000 || st.InFlight.Load() != 0 || st.CacheBytes.Load() != 100_000 {
		t.Errorf("figures: upstream %d, in flight %d, cached %d", st.UpstreamBytes.Load(), st.InFlight.Load(), st.CacheBytes.Load())
	}
	br, err := b.OpenCached(d)
	if err != nil || !br.FromCache() || br.Size() != 100_000 {
		t.Fatalf("cached: %v", err)
	}
	var part bytes.Buffer
	if _, err := br.CopyTo(context.Background(), &part, 10, 20); err != nil || !bytes.Equal(part.Bytes(), up.data[10:20]) {
		t.Errorf("bytes [10, 20) of the cached blob: %v, %v", part.Bytes(), err)
	}
	br.Close()
}

// An upstream that ignores the range of a resume sends the blob from its
// start: the bytes already written are skipped, not written twice.
func TestDownloadResumeFromUpstreamIgnoringRange(t *testing.T) {
	up := &fakeUpstream{data: pattern(50_000, 2)}
	up.answer = func(n int, from int64) (Body, error) {
		if n == 0 {
			return Body{ReadCloser: cutBody(up.data, 20_000), Start: 0, Size: int64(len(up.data))}, nil
		}
		return up.from(0), nil
	}
	b, c := newBlobs(t, testTuning, nil)
	d := digest.FromBytes(up.data)
	if got, err := read(t, b, d, up.open); err != nil || !bytes.Equal(got, up.data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	b.Wait()
	if !exists(c.blobPath(d)) {
		t.Errorf("not kept")
	}
}

// An answer that starts at another byte than asked is never written into
// the blob: the download asks again, and after MaxResumes gives up
// without a complete body reaching the reader or anything cached.
func TestDownloadRefusesAnotherStart(t *testing.T) {
	up := &fakeUpstream{data: pattern(50_000, 3)}
	up.answer = func(n int, from int64) (Body, error) {
		if n == 0 {
			return Body{ReadCloser: cutBody(up.data, 20_000), Start: 0, Size: int64(len(up.data))}, nil
		}
		wrong := from + 4096
		return Body{ReadCloser: io.NopCloser(bytes.NewReader(up.data[wrong:])), Start: wrong, Size: int64(len(up.data))}, nil
	}
	b, c := newBlobs(t, testTuning, nil)
	d := digest.FromBytes(up.data)
	got, err := read(t, b, d, up.open)
	if err == nil || !errors.Is(err, oci.ErrUnreachable) || len(got) >= len(up.data) {
		t.Fatalf("read %d bytes, %v; want fewer than %d and an ErrUnreachable", len(got), err, len(up.data))
	}
	b.Wait()
	if r := up.requests(); len(r) != testTuning.MaxResumes+1 {
		t.Errorf("%d requests, want %d (the first and MaxResumes resumes)", len(r), testTuning.MaxResumes+1)
	}
	if exists(c.blobPath(d)) {
		t.Errorf("a blob made of wrong answers was kept")
	}
}

// Bytes that do not match the digest reach the reader all but the last:
// the reader sees an error, never a complete wrong body, and nothing is
// cached.
func TestDownloadDigestMismatch(t *testing.T) {
	up := &fakeUpstream{data: pattern(10_000, 4)}
	d := digest.FromBytes(pattern(10_000, 5)) // not these bytes
	b, c := newBlobs(t, testTuning, nil)
	got, err := read(t, b, d, up.open)
	if !errors.Is(err, oci.ErrDigestMismatch) || len(got) != len(up.data)-1 {
		t.Fatalf("read %d bytes, %v; want %d and ErrDigestMismatch", len(got), err, len(up.data)-1)
	}
	b.Wait()
	if exists(c.blobPath(d)) {
		t.Errorf("a blob that does not match its digest was kept")
	}
}

// Upstream's "not found" ends a download: no resume asks again.
func TestDownloadNotFoundIsNotResumed(t *testing.T) {
	up := &fakeUpstream{data: pattern(10_000, 6)}
	up.answer = func(n int, from int64) (Body, error) {
		if n == 0 {
			return Body{ReadCloser: cutBody(up.data, 5000), Start: 0, Size: int64(len(up.data))}, nil
		}
		return Body{}, oci.ErrNotFound
	}
	b, _ := newBlobs(t, testTuning, nil)
	if _, err := read(t, b, digest.FromBytes(up.data), up.open); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("read: %v, want ErrNotFound", err)
	}
	b.Wait()
	if r := up.requests(); len(r) != 2 {
		t.Errorf("requests from %v, want 2 (no resume after not found)", r)
	}
}

// gatedBody sends its first n bytes, then waits for release (or Close)
// before the rest.
type gatedBody struct {
	head, tail io.Reader
	release    <-chan struct{}
	closed     chan struct{}
	once       sync.Once
}

func (g *gatedBody) Read(p []byte) (int, error) {
	if n, err := g.head.Read(p); err != io.EOF {
		return n, err
	}
	select {
	case <-g.release:
		return g.tail.Read(p)
	case <-g.closed:
		return 0, errors.New("body closed")
	}
}

func (g *gatedBody) Close() error {
	g.once.Do(func() { close(g.closed) })
	return nil
}

func newGatedBody(b []byte, n int, release <-chan struct{}) *gatedBody {
	return &gatedBody{head: bytes.NewReader(b[:n]), tail: bytes.NewReader(b[n:]), release: release, closed: make(chan struct{})}
}

// Many readers of one uncached blob share one download, and each gets
// every byte. While it runs, its size is known.
func TestOneDownloadForManyReaders(t *testing.T) {
	up := &fakeUpstream{data: pattern(300_000, 7)}
	release := make(chan struct{})
	up.answer = func(n int, from int64) (Body, error) {
		return Body{ReadCloser: newGatedBody(up.data, 1000, release), Start: 0, Size: int64(len(up.data))}, nil
	}
	b, _ := newBlobs(t, testTuning, nil)
	d := digest.FromBytes(up.data)
	first, err := b.Open(context.Background(), d, up.open)
	if err != nil {
		t.Fatal(err)
	}
	if size, ok := b.DownloadSize(d); !ok || size != int64(len(up.data)) {
		t.Errorf("DownloadSize while running = %d, %v", size, ok)
	}
	if first.FromCache() {
		t.Errorf("the reader that started the download is a cache hit")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := read(t, b, d, up.open)
			if err == nil && !bytes.Equal(got, up.data) {
				err = errors.New("wrong bytes")
			}
			errs <- err
		}()
	}
	close(release)
	var out bytes.Buffer
	if _, err := first.CopyTo(context.Background(), &out, 0, -1); err != nil || !bytes.Equal(out.Bytes(), up.data) {
		t.Errorf("first reader: %d bytes, %v", out.Len(), err)
	}
	first.Close()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if r := up.requests(); len(r) != 1 {
		t.Errorf("%d upstream requests, want 1", len(r))
	}
	b.Wait()
	if _, ok := b.DownloadSize(d); ok {
		t.Errorf("DownloadSize after the download ended")
	}
}

// A body that stalls is cut after StallTimeout and the download resumes:
// the tuning comes from BlobsConfig.
func TestDownloadStallIsCut(t *testing.T) {
	up := &fakeUpstream{data: pattern(40_000, 8)}
	never := make(chan struct{})
	up.answer = func(n int, from int64) (Body, error) {
		if n == 0 {
			return Body{ReadCloser: newGatedBody(up.data, 10_000, never), Start: 0, Size: int64(len(up.data))}, nil
		}
		return up.from(from), nil
	}
	tune := testTuning
	tune.StallTimeout = 20 * time.Millisecond
	b, _ := newBlobs(t, tune, nil)
	if got, err := read(t, b, digest.FromBytes(up.data), up.open); err != nil || !bytes.Equal(got, up.data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if r := up.requests(); len(r) != 2 || r[1] != 10_000 {
		t.Errorf("requests from %v, want [0 10000]", r)
	}
}

// A cached blob whose file no longer matches its digest is removed and
// counted when it is opened, and reported as not cached.
func TestDamagedCachedBlob(t *testing.T) {
	var st Stats
	b, c := newBlobs(t, testTuning, &st)
	data := pattern(5000, 9)
	d := putBlob(t, c, data)
	data[100] ^= 1
	if err := c.writeFile(c.blobPath(d), data); err != nil {
		t.Fatal(err)
	}
	if _, err := b.OpenCached(d); err == nil {
		t.Fatal("a damaged blob was opened")
	}
	if exists(c.blobPath(d)) || st.DamagedBlobs.Load() != 1 {
		t.Errorf("damaged blob kept %v, counted %d", exists(c.blobPath(d)), st.DamagedBlobs.Load())
	}
}
