package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// The store's side of segmented downloads: which requests a download
// makes and what it does with odd answers. The mirror's tests cover the
// same over HTTP against the fake hub.

// span is one request a download made: bytes [from, end), end -1 for "to
// the end".
type span struct{ from, end int64 }

// rangeUpstream serves one blob to downloads as an upstream that honours
// Range does, and records each request.
type rangeUpstream struct {
	data []byte
	// answer, when set, decides the n-th answer (from 0); right gives
	// the answer an upstream that honours Range would send.
	answer func(n int, from, end int64) (Body, error)

	mu    sync.Mutex
	spans []span
}

func (u *rangeUpstream) open(_ context.Context, from, end int64) (Body, error) {
	u.mu.Lock()
	n := len(u.spans)
	u.spans = append(u.spans, span{from, end})
	u.mu.Unlock()
	if u.answer != nil {
		return u.answer(n, from, end)
	}
	return u.right(from, end), nil
}

// right is a 206 for [from, end) (clamped to the blob), or a 200 for the
// whole blob when nothing narrower was asked for.
func (u *rangeUpstream) right(from, end int64) Body {
	size := int64(len(u.data))
	if end < 0 || end > size {
		end = size
	}
	b := Body{ReadCloser: io.NopCloser(bytes.NewReader(u.data[from:end])), Start: from, Size: size}
	if from > 0 || end < size {
		b.End = end
	}
	return b
}

func (u *rangeUpstream) requests() []span {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.spans)
}

// segBlobs is a blob store that splits blobs above 40 000 bytes into
// chunks of 10 000, four at a time.
func segBlobs(t *testing.T, st *Stats) (*Blobs, *Cache) {
	t.Helper()
	c := openCache(t, t.TempDir(), Options{Stats: st})
	ctx, cancel := context.WithCancel(context.Background())
	b := NewBlobs(ctx, c, BlobsConfig{
		Log: slog.New(slog.DiscardHandler), Tuning: testTuning,
		DownloadConnections: 4, DownloadChunk: 10_000, SegmentThreshold: 40_000,
	})
	t.Cleanup(func() { cancel(); b.Wait() })
	return b, c
}

// A blob above the threshold is asked for chunk by chunk, each once, and
// counted once in the figures.
func TestSegmentedRequests(t *testing.T) {
	up := &rangeUpstream{data: pattern(45_000, 11)}
	var st Stats
	b, c := segBlobs(t, &st)
	d := digest.FromBytes(up.data)
	if got, err := read(t, b, d, up.open); err != nil || !bytes.Equal(got, up.data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	b.Wait()
	got := up.requests()
	slices.SortFunc(got, func(a, b span) int { return int(a.from - b.from) })
	want := []span{{0, 10_000}, {10_000, 20_000}, {20_000, 30_000}, {30_000, 40_000}, {40_000, 45_000}}
	if !slices.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
	if st.UpstreamBytes.Load() != 45_000 || !exists(c.blobPath(d)) {
		t.Errorf("upstream bytes %d, kept %v", st.UpstreamBytes.Load(), exists(c.blobPath(d)))
	}
}

// A first answer that names no total ("bytes 0-9999/*") is a part of a
// blob of unknown size: the rest is asked for at once, over one
// connection, without counting as a failure.
func TestFirstPartWithoutTotal(t *testing.T) {
	up := &rangeUpstream{data: pattern(45_000, 12)}
	up.answer = func(n int, from, end int64) (Body, error) {
		b := up.right(from, end)
		b.Size = -1
		return b, nil
	}
	b, c := segBlobs(t, nil)
	d := digest.FromBytes(up.data)
	if got, err := read(t, b, d, up.open); err != nil || !bytes.Equal(got, up.data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	b.Wait()
	if r := up.requests(); !slices.Equal(r, []span{{0, 10_000}, {10_000, -1}}) {
		t.Errorf("requests %v, want [0, 10000) then the rest", r)
	}
	if !exists(c.blobPath(d)) {
		t.Errorf("not kept")
	}
}

// An upstream that keeps answering an empty part of a blob below the
// threshold does not keep the download going for ever: each empty part is
// a failure.
func TestEmptyPartsFail(t *testing.T) {
	up := &rangeUpstream{data: pattern(35_000, 13)}
	up.answer = func(n int, from, end int64) (Body, error) {
		if n == 0 {
			return up.right(from, end), nil
		}
		return Body{ReadCloser: io.NopCloser(bytes.NewReader(nil)), Start: from, Size: 35_000, End: from}, nil
	}
	b, c := segBlobs(t, nil)
	d := digest.FromBytes(up.data)
	got, err := read(t, b, d, up.open)
	if err == nil || len(got) >= len(up.data) {
		t.Fatalf("read %d bytes, %v; want an error", len(got), err)
	}
	b.Wait()
	if r := up.requests(); len(r) != 2+testTuning.MaxResumes {
		t.Errorf("%d requests, want %d (the first part, then an empty one and MaxResumes more)", len(r), 2+testTuning.MaxResumes)
	}
	if exists(c.blobPath(d)) {
		t.Errorf("kept")
	}
}

// A chunk answered with other bytes than asked for (here the whole blob,
// from an upstream node that ignores Range) stops the parallel requests;
// the rest comes over one connection from where the blob is whole, into
// the same hash, and the blob is kept.
func TestSegmentedFallsBackToOneConnection(t *testing.T) {
	up := &rangeUpstream{data: pattern(45_000, 14)}
	// The first chunk sends 5 000 bytes and then nothing until closed; the
	// other chunks are answered once those bytes are in, so the blob is
	// whole up to byte 5 000 when the parallel requests stop.
	first := &stallAfter{head: bytes.NewReader(up.data[:5_000]), sent: make(chan struct{}), closed: make(chan struct{})}
	up.answer = func(n int, from, end int64) (Body, error) {
		switch {
		case n == 0:
			return Body{ReadCloser: first, Size: 45_000, End: 10_000}, nil
		case end > 0:
			<-first.sent
			return up.right(0, -1), nil // a 200 to a Range request
		}
		return up.right(from, end), nil
	}
	var st Stats
	b, c := segBlobs(t, &st)
	d := digest.FromBytes(up.data)
	got, err := read(t, b, d, up.open)
	if err != nil || !bytes.Equal(got, up.data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	b.Wait()
	r := up.requests()
	if last := r[len(r)-1]; last != (span{5_000, -1}) {
		t.Errorf("requests %v: the last one is not the rest from byte 5000", r)
	}
	if !exists(c.blobPath(d)) {
		t.Errorf("not kept")
	}
	if n := st.UpstreamBytes.Load(); n != 45_000 {
		t.Errorf("upstream bytes %d, want 45000 (the 200s were closed unread)", n)
	}
}

// stallAfter is a body that sends head, then waits until closed.
type stallAfter struct {
	head   io.Reader
	sent   chan struct{} // closed once head is all read
	closed chan struct{}
	once   sync.Once
	close  sync.Once
}

func (s *stallAfter) Read(p []byte) (int, error) {
	if n, err := s.head.Read(p); err != io.EOF {
		return n, err
	}
	s.once.Do(func() { close(s.sent) })
	<-s.closed
	return 0, errors.New("body closed")
}

func (s *stallAfter) Close() error {
	s.close.Do(func() { close(s.closed) })
	return nil
}

// A "not found" or "denied" answer to a chunk ends the download: no
// request over one connection follows.
func TestSegmentedNotFoundEnds(t *testing.T) {
	for _, refusal := range []error{oci.ErrNotFound, oci.ErrDenied} {
		up := &rangeUpstream{data: pattern(45_000, 15)}
		up.answer = func(n int, from, end int64) (Body, error) {
			if n == 0 {
				return up.right(from, end), nil
			}
			return Body{}, refusal
		}
		b, _ := segBlobs(t, nil)
		if _, err := read(t, b, digest.FromBytes(up.data), up.open); !errors.Is(err, refusal) {
			t.Errorf("read: %v, want %v", err, refusal)
		}
		b.Wait()
		for _, s := range up.requests() {
			if s.end < 0 {
				t.Errorf("%v: a request over one connection followed (%v)", refusal, up.requests())
			}
		}
	}
}

// A segmented blob that does not match its digest reaches the reader all
// but its last byte, and is not kept.
func TestSegmentedDigestMismatch(t *testing.T) {
	up := &rangeUpstream{data: pattern(45_000, 16)}
	d := digest.FromBytes(pattern(45_000, 17))
	b, c := segBlobs(t, nil)
	got, err := read(t, b, d, up.open)
	if !errors.Is(err, oci.ErrDigestMismatch) || len(got) != len(up.data)-1 {
		t.Fatalf("read %d bytes, %v; want %d and ErrDigestMismatch", len(got), err, len(up.data)-1)
	}
	b.Wait()
	if exists(c.blobPath(d)) {
		t.Errorf("kept")
	}
}

// Chunks that find the disk full at once make room once: the others just
// write again.
func TestRoomIsMadeOnce(t *testing.T) {
	var calls atomic.Int32
	dl := newDownload("", "", testTuning, segmenting{})
	dl.makeRoom = func(int64) bool { calls.Add(1); return true }
	gen := dl.roomGen.Load() // all four writes began before any room was made
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if !dl.room(gen, 1) {
				t.Errorf("room refused")
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("makeRoom called %d times, want 1", n)
	}
	if !dl.room(dl.roomGen.Load(), 1) || calls.Load() != 2 {
		t.Errorf("a later full disk did not make room again")
	}
}
