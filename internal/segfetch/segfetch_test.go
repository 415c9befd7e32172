package segfetch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/segfetch"
)

// fetchRun is one Fetch into a temp file, with what the package promises
// checked while it runs: each byte is written once, Advance only grows and
// never passes bytes that are not both written (with the right bytes) and
// hashed, and nothing is written after Fetch returns.
type fetchRun struct {
	t      *testing.T
	o      *origin
	opt    segfetch.Options
	first  io.ReadCloser   // nil: no first body
	source segfetch.Source // nil: o.source
	readAt io.ReaderAt     // nil: the file

	// failWrite, when not nil, can fail a write instead of doing it.
	failWrite func(off int64, n int) error
	// onAdvance, when not nil, is called after each Advance is checked.
	onAdvance func(prefix int64)

	file       *os.File
	hash       *countingHash
	returned   atomic.Bool
	lateWrites atomic.Int64

	mu       sync.Mutex
	writes   []span // every successful write
	advances []int64
	resumes  []resumeCall
}

// newRun prepares a Fetch of o's blob into a new temp file.
func newRun(t *testing.T, o *origin, opt segfetch.Options) *fetchRun {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(t.TempDir(), "blob"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r := &fetchRun{t: t, o: o, opt: opt, file: f, hash: &countingHash{Hash: sha256.New()}}
	r.opt.Resumed = func(off, end int64, attempt int, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.resumes = append(r.resumes, resumeCall{off, end, attempt, err})
	}
	return r
}

// fetch runs Fetch.
func (r *fetchRun) fetch(ctx context.Context) (int64, error) {
	size := int64(len(r.o.served))
	src := r.source
	if src == nil {
		src = r.o.source(size)
	}
	var readAt io.ReaderAt = r.file
	if r.readAt != nil {
		readAt = r.readAt
	}
	job := segfetch.Job{
		Size:    size,
		First:   r.first,
		Source:  src,
		WriteAt: r.writeAt,
		ReadAt:  readAt,
		Hash:    r.hash,
		Advance: r.advance,
	}
	prefix, err := segfetch.Fetch(ctx, job, r.opt)
	r.returned.Store(true)
	return prefix, err
}

func (r *fetchRun) writeAt(b []byte, off int64) error {
	if r.returned.Load() {
		r.lateWrites.Add(1)
	}
	if r.failWrite != nil {
		if err := r.failWrite(off, len(b)); err != nil {
			return err
		}
	}
	if _, err := r.file.WriteAt(b, off); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, span{off, off + int64(len(b))})
	return nil
}

func (r *fetchRun) advance(prefix int64) {
	t := r.t
	r.mu.Lock()
	last := int64(0)
	if n := len(r.advances); n > 0 {
		last = r.advances[n-1]
	}
	r.advances = append(r.advances, prefix)
	r.mu.Unlock()
	if prefix <= last {
		t.Errorf("Advance(%d) after Advance(%d)", prefix, last)
		return
	}
	if n := r.hash.n.Load(); n != prefix {
		t.Errorf("Advance(%d) with %d bytes hashed", prefix, n)
	}
	got := make([]byte, prefix-last)
	if _, err := r.file.ReadAt(got, last); err != nil || !bytes.Equal(got, r.o.served[last:prefix]) {
		t.Errorf("Advance(%d): bytes %d-%d of the file are not the blob's (%v)", prefix, last, prefix-1, err)
	}
	if r.onAdvance != nil {
		r.onAdvance(prefix)
	}
}

// checkWrittenOnce checks the writes cover [0, to) exactly once when whole
// is true, or do not overlap otherwise.
func (r *fetchRun) checkWrittenOnce(to int64, whole bool) {
	r.t.Helper()
	r.mu.Lock()
	w := slices.Clone(r.writes)
	r.mu.Unlock()
	slices.SortFunc(w, func(a, b span) int { return int(a.start - b.start) })
	pos := int64(0)
	for _, s := range w {
		if s.start < pos || (whole && s.start > pos) {
			r.t.Fatalf("write of bytes %d-%d after bytes up to %d were written", s.start, s.end-1, pos)
		}
		pos = s.end
	}
	if whole && pos != to {
		r.t.Fatalf("writes end at %d, want %d", pos, to)
	}
}

// checkDone checks a successful Fetch: every byte once, in the file and in
// the hash, and announced.
func (r *fetchRun) checkDone(prefix int64, err error) {
	r.t.Helper()
	size := int64(len(r.o.served))
	if err != nil || prefix != size {
		r.t.Fatalf("Fetch = %d, %v; want %d, nil", prefix, err, size)
	}
	r.checkWrittenOnce(size, true)
	got, err := os.ReadFile(r.file.Name())
	if err != nil || !bytes.Equal(got, r.o.served) {
		r.t.Fatalf("the file is not the blob (%d bytes, %v)", len(got), err)
	}
	if want := sha256.Sum256(r.o.served); !bytes.Equal(r.hash.Sum(nil), want[:]) || r.hash.n.Load() != size {
		r.t.Fatalf("hash of %d bytes differs from the blob's", r.hash.n.Load())
	}
	if n := len(r.advances); n == 0 || r.advances[n-1] != size {
		r.t.Fatalf("the last Advance is not the size: %v", r.advances[max(n-3, 0):])
	}
	if n := r.lateWrites.Load(); n > 0 {
		r.t.Fatalf("%d writes after Fetch returned", n)
	}
}

// checkStopped checks a Fetch that failed: what it returns as its prefix is
// in the file and exactly in the hash, nothing was written after it
// returned and no goroutine is left.
func (r *fetchRun) checkStopped(prefix int64, before int) {
	r.t.Helper()
	if n := r.hash.n.Load(); n != prefix {
		r.t.Errorf("Fetch returned prefix %d with %d bytes hashed", prefix, n)
	}
	want := sha256.Sum256(r.o.served[:prefix])
	if !bytes.Equal(r.hash.Sum(nil), want[:]) {
		r.t.Errorf("the hash is not that of the first %d bytes", prefix)
	}
	got := make([]byte, prefix)
	if _, err := r.file.ReadAt(got, 0); err != nil || !bytes.Equal(got, r.o.served[:prefix]) {
		r.t.Errorf("the file does not hold the first %d bytes (%v)", prefix, err)
	}
	r.checkWrittenOnce(int64(len(r.o.served)), false)
	r.o.transport.CloseIdleConnections()
	settle(r.t, before)
	if n := r.lateWrites.Load(); n > 0 {
		r.t.Errorf("%d writes after Fetch returned", n)
	}
}

// fast are options that keep tests quick: small chunks, no back-off.
func fast(conns int, chunk int64) segfetch.Options {
	return segfetch.Options{Conns: conns, Chunk: chunk, ResumeDelay: -1, Stall: time.Minute}
}

// TestFetch fetches blobs of many shapes and checks bytes, hash and
// announcements.
func TestFetch(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		opt   segfetch.Options
		first string // Range of the first body; "" for none
		// waste: upstream may send more than 1.02× the blob. Closing an
		// open-ended first body after its chunk throws away what the
		// sockets buffered, which depends on the scheduler: then the
		// bytes asked for (read from the first body, and the ranges of
		// the Source) are held to 1.02× instead, and what was sent is
		// logged.
		waste bool
	}{
		{name: "one byte", size: 1, opt: fast(4, 64<<10)},
		{name: "one chunk below a buffer", size: 1000, opt: fast(4, 64<<10)},
		{name: "size a multiple of the chunk", size: 4 << 20, opt: fast(4, 512<<10)},
		{name: "odd size and chunk", size: 3<<20 + 12345, opt: fast(3, 256<<10+3)},
		{name: "one connection", size: 2<<20 + 1, opt: fast(1, 256<<10)},
		{name: "more connections than chunks", size: 1 << 20, opt: fast(8, 512<<10)},
		{name: "chunks smaller than a buffer", size: 1<<20 + 7, opt: fast(4, 10_000)},
		{name: "first body of the first chunk", size: 3<<20 + 5, opt: fast(4, 512<<10), first: fast(4, 512<<10).FirstRange()},
		{name: "first body, one chunk", size: 100_000, opt: fast(4, 512<<10), first: "bytes=0-"},
		{name: "first body open-ended", size: 3<<20 + 5, opt: fast(4, 512<<10), first: "bytes=0-", waste: true},
		{name: "defaults, 40 MiB", size: 40<<20 + 3, first: segfetch.Options{}.FirstRange()},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, randomBlob(tc.size, uint64(i)))
			r := newRun(t, o, tc.opt)
			var first *closeTracker
			if tc.first != "" {
				first = &closeTracker{ReadCloser: o.openFirst(t, tc.first)}
				r.first = first
			}
			r.checkDone(r.fetch(context.Background()))
			if first != nil && !first.closed.Load() {
				t.Errorf("the first body was not closed")
			}
			log := o.log()
			for _, s := range log[min(len(log), 1):] {
				if first != nil && s.start == 0 {
					t.Errorf("the Source was asked for byte 0 though the first body has it")
				}
			}
			ratio := float64(o.sent.Load()) / float64(tc.size)
			t.Logf("%d requests, upstream bytes %.4f× the blob", len(log), ratio)
			if ratio > 1.02 && !tc.waste {
				t.Errorf("upstream sent %.4f× the blob", ratio)
			}
			if first != nil {
				asked := first.read.Load()
				for _, s := range log[1:] {
					asked += s.end - s.start
				}
				if ratio := float64(asked) / float64(tc.size); ratio > 1.02 {
					t.Errorf("read from the first body and asked of the Source: %.4f× the blob", ratio)
				}
			}
		})
	}
}

// TestFetchZero needs no request at all.
func TestFetchZero(t *testing.T) {
	o := newOrigin(t, []byte{})
	r := newRun(t, o, fast(4, 1024))
	if prefix, err := r.fetch(context.Background()); prefix != 0 || err != nil {
		t.Fatalf("Fetch of 0 bytes = %d, %v", prefix, err)
	}
	if n := len(o.log()); n != 0 {
		t.Errorf("%d requests for an empty blob", n)
	}
}

// TestChunksLowestFirst checks chunks are asked for in offset order: when
// a chunk is asked for, at most Conns-1 chunks below it (claimed by other
// workers that have not sent their request yet) are still unasked.
func TestChunksLowestFirst(t *testing.T) {
	const chunk, conns = 64 << 10, 3
	o := newOrigin(t, randomBlob(40*chunk+11, 7))
	r := newRun(t, o, fast(conns, chunk))
	var mu sync.Mutex
	asked := map[int64]bool{}
	inner := o.source(int64(len(o.data)))
	r.source = func(ctx context.Context, off, end int64) (io.ReadCloser, error) {
		mu.Lock()
		below := 0
		for c := int64(0); c < off; c += chunk {
			if !asked[c] {
				below++
			}
		}
		asked[off] = true
		mu.Unlock()
		if below > conns-1 {
			t.Errorf("chunk at %d asked for with %d chunks below it not asked for yet", off, below)
		}
		return inner(ctx, off, end)
	}
	r.checkDone(r.fetch(context.Background()))
}

// TestResumeCut cuts bodies mid-way: each is resumed from the byte where it
// was cut, so upstream sends each byte once.
func TestResumeCut(t *testing.T) {
	const size, chunk = 5<<20 + 77, 1 << 20
	for _, tc := range []struct {
		name  string
		first bool
	}{{"chunks", false}, {"first body", true}} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, randomBlob(size, 3))
			// The first three requests are cut after 300 KiB.
			o.setPlan(func(n int, _ span) answer {
				if n < 3 {
					return answer{cut: 300 << 10}
				}
				return answer{}
			})
			r := newRun(t, o, fast(4, chunk))
			if tc.first {
				r.first = o.openFirst(t, fmt.Sprintf("bytes=0-%d", chunk-1))
			}
			r.checkDone(r.fetch(context.Background()))
			if len(r.resumes) != 3 {
				t.Fatalf("%d resumes, want 3: %v", len(r.resumes), r.resumes)
			}
			for _, c := range r.resumes {
				if !errors.Is(c.err, io.ErrUnexpectedEOF) || (c.off%chunk)%(300<<10) != 0 || c.off%chunk == 0 {
					t.Errorf("resume %+v: want one from a multiple of 300 KiB into its chunk after an unexpected EOF", c)
				}
			}
			if tc.first && !slices.ContainsFunc(r.resumes, func(c resumeCall) bool { return c.off == 300<<10 }) {
				t.Errorf("the first body's chunk was not resumed at 300 KiB: %v", r.resumes)
			}
			if ratio := float64(o.sent.Load()) / size; ratio > 1.02 {
				t.Errorf("upstream sent %.3f× the blob", ratio)
			}
		})
	}
}

// TestShortBodyResumed gives a chunk a body that ends early with io.EOF,
// as a Source that does not check lengths might: the chunk is resumed from
// where it ended, not taken as complete.
func TestShortBodyResumed(t *testing.T) {
	const chunk = 256 << 10
	o := newOrigin(t, randomBlob(1<<20+3, 13))
	r := newRun(t, o, fast(4, chunk))
	inner := o.source(int64(len(o.data)))
	var once sync.Once
	r.source = func(ctx context.Context, off, end int64) (io.ReadCloser, error) {
		body, err := inner(ctx, off, end)
		short := false
		if off == chunk {
			once.Do(func() { short = true })
		}
		if err != nil || !short {
			return body, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(body, 1000), body}, nil
	}
	r.checkDone(r.fetch(context.Background()))
	if len(r.resumes) != 1 || r.resumes[0].off != chunk+1000 || !errors.Is(r.resumes[0].err, io.ErrUnexpectedEOF) {
		t.Errorf("resumes %+v, want one from %d after an unexpected EOF", r.resumes, chunk+1000)
	}
}

// TestResumeStall stops one body mid-way without closing it: it is cut
// after Stall and resumed where it stopped.
func TestResumeStall(t *testing.T) {
	const size, chunk = 3<<20 + 1, 512 << 10
	o := newOrigin(t, randomBlob(size, 4))
	stalled := int64(-1)
	o.setPlan(func(n int, s span) answer {
		if n == 1 {
			stalled = s.start
			return answer{stall: 200 << 10}
		}
		return answer{}
	})
	opt := fast(4, chunk)
	opt.Stall = 300 * time.Millisecond
	r := newRun(t, o, opt)
	r.checkDone(r.fetch(context.Background()))
	o.mu.Lock()
	at := stalled + 200<<10
	o.mu.Unlock()
	if !slices.ContainsFunc(r.resumes, func(c resumeCall) bool { return c.off == at && errors.Is(c.err, segfetch.ErrStalled) }) {
		t.Errorf("no resume at %d after a stall: %v", at, r.resumes)
	}
	if ratio := float64(o.sent.Load()) / size; ratio > 1.02 {
		t.Errorf("upstream sent %.3f× the blob", ratio)
	}
}

// TestSourceErrorsRetried answers a chunk 503 twice: the chunk is asked for
// again, and the Fetch succeeds.
func TestSourceErrorsRetried(t *testing.T) {
	const chunk = 256 << 10
	o := newOrigin(t, randomBlob(2<<20, 5))
	busy := 2
	o.setPlan(func(_ int, s span) answer {
		if s.start == 2*chunk && busy > 0 {
			busy--
			return answer{status: 503}
		}
		return answer{}
	})
	r := newRun(t, o, fast(4, chunk))
	r.checkDone(r.fetch(context.Background()))
	if len(r.resumes) != 2 || r.resumes[0].off != 2*chunk || r.resumes[1].attempt != 2 {
		t.Errorf("resumes %+v, want two of the chunk at %d", r.resumes, 2*chunk)
	}
}

// TestResumesRunOut answers one chunk 503 forever: after MaxResumes the
// Fetch fails and reports what it has.
func TestResumesRunOut(t *testing.T) {
	const chunk = 256 << 10
	o := newOrigin(t, randomBlob(2<<20, 6))
	o.setPlan(func(_ int, s span) answer {
		if s.start == 2*chunk {
			return answer{status: 503}
		}
		return answer{}
	})
	before, _ := goroutines()
	opt := fast(4, chunk)
	opt.MaxResumes = 2
	r := newRun(t, o, opt)
	prefix, err := r.fetch(context.Background())
	t.Logf("Fetch = %d, %v", prefix, err)
	if err == nil || segfetch.IsPermanent(err) || prefix > 2*chunk {
		t.Fatalf("Fetch = %d, %v; want an error by byte %d", prefix, err, 2*chunk)
	}
	asked := 0
	for _, s := range o.log() {
		if s.start == 2*chunk {
			asked++
		}
	}
	if asked != 3 {
		t.Errorf("the failing chunk was asked for %d times, want 1 + MaxResumes = 3", asked)
	}
	r.checkStopped(prefix, before)
}

// TestRangeNotHonoured answers chunks with 200 or with another range than
// asked: the Source fails them as permanent, and Fetch stops at once with
// its error, for the caller to go on over one connection.
func TestRangeNotHonoured(t *testing.T) {
	const chunk = 256 << 10
	for _, tc := range []struct {
		name string
		ans  answer
	}{
		{"200 instead of 206", answer{status: 200}},
		{"wrong Content-Range", answer{shift: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, randomBlob(2<<20+9, 8))
			o.setPlan(func(_ int, s span) answer {
				if s.start > 0 {
					return tc.ans
				}
				return answer{}
			})
			before, _ := goroutines()
			r := newRun(t, o, fast(4, chunk))
			r.first = o.openFirst(t, "bytes=0-")
			prefix, err := r.fetch(context.Background())
			t.Logf("Fetch = %d, %v", prefix, err)
			if !errors.Is(err, errNoRange) || !segfetch.IsPermanent(err) {
				t.Fatalf("Fetch = %d, %v; want the Source's permanent error", prefix, err)
			}
			if len(r.resumes) != 0 {
				t.Errorf("a permanent error was retried: %v", r.resumes)
			}
			seen := map[int64]int{}
			for _, s := range o.log() {
				if seen[s.start]++; seen[s.start] > 1 {
					t.Errorf("bytes from %d asked for twice", s.start)
				}
			}
			r.checkStopped(prefix, before)
		})
	}
}

// errFull is the write error of TestWriteErrorStops.
var errFull = errors.New("no space left on device")

// TestWriteErrorStops fails a write: Fetch returns that error as it is,
// does not retry, and stops the other chunks instead of finishing them.
func TestWriteErrorStops(t *testing.T) {
	const size, chunk = 8 << 20, 1 << 20
	o := newOrigin(t, randomBlob(size, 9))
	o.setRate(1 << 20) // a chunk takes a second: the others are mid-way
	before, _ := goroutines()
	r := newRun(t, o, fast(4, chunk))
	r.failWrite = func(off int64, _ int) error {
		if off >= chunk+64<<10 && off < 2*chunk {
			return errFull
		}
		return nil
	}
	prefix, err := r.fetch(context.Background())
	if err != errFull {
		t.Fatalf("Fetch = %d, %v; want %v as it is", prefix, err, errFull)
	}
	if len(r.resumes) != 0 {
		t.Errorf("a write error was retried: %v", r.resumes)
	}
	// Finishing the chunks in flight would take 4 MiB; stopping them at
	// once leaves each near where chunk 1 failed.
	if sent := o.sent.Load(); sent >= 2<<20 {
		t.Errorf("upstream sent %d bytes: the other chunks went on after the write error", sent)
	}
	r.checkStopped(prefix, before)
}

// TestCancel cancels the context mid-way: every chunk stops, Fetch returns
// the context's error and leaves no goroutine behind.
func TestCancel(t *testing.T) {
	const size, chunk = 8 << 20, 1 << 20
	o := newOrigin(t, randomBlob(size, 10))
	o.setRate(1 << 20)
	before, _ := goroutines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRun(t, o, fast(4, chunk))
	r.first = o.openFirst(t, "bytes=0-")
	r.onAdvance = func(prefix int64) {
		if prefix >= 256<<10 {
			cancel()
		}
	}
	prefix, err := r.fetch(ctx)
	if !errors.Is(err, context.Canceled) || prefix < 256<<10 {
		t.Fatalf("Fetch = %d, %v; want context.Canceled after 256 KiB", prefix, err)
	}
	if sent := o.sent.Load(); sent >= 2<<20 {
		t.Errorf("upstream sent %d bytes: chunks went on after the cancel", sent)
	}
	r.checkStopped(prefix, before)
}

// errReadBack is the read error of TestReadBackError.
var errReadBack = errors.New("input/output error")

// failingReader fails every read.
type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errReadBack }

// TestReadBackError fails the read-back: Fetch stops with that error and
// announces nothing.
func TestReadBackError(t *testing.T) {
	o := newOrigin(t, randomBlob(2<<20, 11))
	before, _ := goroutines()
	r := newRun(t, o, fast(4, 256<<10))
	r.readAt = failingReader{}
	prefix, err := r.fetch(context.Background())
	if !errors.Is(err, errReadBack) || prefix != 0 || len(r.advances) != 0 {
		t.Fatalf("Fetch = %d, %v after %d Advances; want the read error", prefix, err, len(r.advances))
	}
	r.checkStopped(prefix, before)
}

// TestCorruptByte serves one wrong byte: Fetch succeeds (it does not know
// the digest) and the hash is not the blob's, for the caller to refuse.
func TestCorruptByte(t *testing.T) {
	o := newOrigin(t, randomBlob(3<<20, 12))
	o.served = bytes.Clone(o.data)
	o.served[5<<19+17] ^= 0x40
	r := newRun(t, o, fast(4, 512<<10))
	r.checkDone(r.fetch(context.Background())) // checks against what was served
	if want := sha256.Sum256(o.data); bytes.Equal(r.hash.Sum(nil), want[:]) {
		t.Fatalf("a corrupt byte hashes like the blob")
	}
}

// TestPermanent checks the marker keeps the error it marks visible.
func TestPermanent(t *testing.T) {
	if segfetch.Permanent(nil) != nil {
		t.Errorf("Permanent(nil) is not nil")
	}
	base := errors.New("404")
	err := fmt.Errorf("chunk: %w", segfetch.Permanent(base))
	if !segfetch.IsPermanent(err) || !errors.Is(err, base) || err.Error() != "chunk: 404" {
		t.Errorf("wrapped Permanent: IsPermanent %v, Is %v, %q", segfetch.IsPermanent(err), errors.Is(err, base), err)
	}
	if segfetch.IsPermanent(base) {
		t.Errorf("an unmarked error is permanent")
	}
}
