// Package segfetch downloads one blob over several parallel HTTP Range
// requests into one file, while readers stream that file from its start.
//
// The blob is cut into chunks of Options.Chunk bytes. Up to Options.Conns
// workers each fetch one chunk at a time, lowest offset first, and write its
// bytes at their offsets through the caller's WriteAt. A chunk whose body is
// cut or stalls is resumed from the byte where it stopped, never restarted.
//
// # Ordering and hashing
//
// The goroutine that called Fetch hashes the blob in order by reading back,
// through Job.ReadAt, the contiguous prefix the workers have written, and
// calls Job.Advance each time that prefix grows. Readers therefore never see
// a byte that is not both written and hashed. Reading back, instead of
// hashing the bytes as they come off the network, is deliberate:
//
//   - Only the lowest chunk arrives in order. The others arrive before the
//     bytes they follow, so hashing them as they come would mean holding up
//     to Conns-1 whole chunks in memory (24 MiB at the defaults, most of the
//     mirror's 40 MiB budget) or reading them back anyway. Reading everything
//     back is one code path, and memory stays at Conns+1 buffers of 256 KiB.
//   - The digest is computed over the bytes as they are in the file, which
//     are the bytes clients are served and the cache keeps, so a write at a
//     wrong offset fails the digest instead of being cached.
//   - The bytes were just written, so reading them back is a copy from the
//     page cache: about a tenth more than hashing them alone (see
//     BenchmarkHash).
//
// # Falling back
//
// Fetch stops every chunk at the first error that resuming cannot help and
// returns how much of the blob's start is written and hashed. A caller that
// wants to go on with a single connection (for example because an upstream
// answered a chunk with 200 instead of 206, which its Source reports as a
// Permanent error) continues the same hash from that prefix with
// "Range: bytes=prefix-".
package segfetch

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used for the zero values of Options. DefaultThreshold is the
// blob size above which a caller should use Fetch rather than one
// connection; Fetch itself does not look at it.
const (
	DefaultThreshold   = 16 << 20
	DefaultConns       = 4
	DefaultChunk       = 8 << 20
	DefaultStall       = 60 * time.Second
	DefaultMaxResumes  = 5
	DefaultResumeDelay = 200 * time.Millisecond
)

// bufSize is the size of each worker's read buffer and of the hashing
// buffer.
const bufSize = 256 << 10

// ErrStalled is the error a chunk body is cut with after it sent nothing
// for Options.Stall. It reaches Options.Resumed, and is returned wrapped
// when the chunk runs out of resumes.
var ErrStalled = errors.New("upstream stopped sending")

// Source opens bytes [off, end) of the blob upstream. It answers only with
// exactly those bytes (it checks the status is 206 and that Content-Range
// names that range) or an error. Fetch calls it once per chunk and again
// each time it resumes a cut chunk, so it can renew tokens and signed URLs
// per call.
//
// Its request must end when ctx is cancelled. The body it returns must
// allow Close while a Read is blocked, as HTTP response bodies do; Fetch
// closes it to cut a stalled body. An error wrapped with Permanent stops
// the whole Fetch; any other error is retried like a cut body.
type Source func(ctx context.Context, off, end int64) (io.ReadCloser, error)

// Job is one blob to fetch and where its bytes go.
type Job struct {
	// Size is the blob's length in bytes, from the first answer's
	// Content-Range. It must be known: an upstream that does not say is
	// fetched over one connection.
	Size int64
	// First, when not nil, is a body already open from byte 0, such as
	// the answer to the request that learned Size. Fetch reads the first
	// chunk from it, resuming through Source if it is cut, and closes it
	// whatever happens. Ask for it with Options.FirstRange: an answer to
	// "Range: bytes=0-" works too, but closing it after the first chunk
	// throws away what the network had buffered past it (up to a few MiB
	// when the mirror's disk, not upstream, is the slower side).
	First io.ReadCloser
	// Source opens the other chunks and resumes cut ones.
	Source Source
	// WriteAt writes all of b at off, or fails. It is called from up to
	// Conns goroutines at once, each at its own offsets; each byte is
	// written once. Its error stops the Fetch and is returned as it is.
	WriteAt func(b []byte, off int64) error
	// ReadAt reads back written bytes to hash them: usually the same file,
	// opened for reading and writing.
	ReadAt io.ReaderAt
	// Hash receives [0, Size) in order, each byte once. On failure it
	// holds exactly the prefix Fetch returns.
	Hash hash.Hash
	// Advance, when not nil, is told each time the prefix that is written
	// and hashed grows; prefix only increases. It is called from the
	// goroutine that called Fetch, never after Fetch returns, so it may
	// update the caller's state without more locking than its readers need.
	Advance func(prefix int64)
}

// Options tunes a Fetch. The zero value means the defaults.
type Options struct {
	// Conns is how many chunks are fetched at once (at most the number of
	// chunks); 0 is DefaultConns.
	Conns int
	// Chunk is the size of one Range request; 0 is DefaultChunk.
	Chunk int64
	// Stall cuts a chunk body that sends nothing for this long, and
	// resumes it; 0 is DefaultStall.
	Stall time.Duration
	// MaxResumes is how many times one chunk is resumed (after a cut, a
	// stall or a Source error that is not Permanent) before the Fetch
	// fails; 0 is DefaultMaxResumes, negative is none.
	MaxResumes int
	// ResumeDelay is the back-off before a chunk's nth resume: n times
	// this; 0 is DefaultResumeDelay, negative is none.
	ResumeDelay time.Duration
	// Resumed, when not nil, is called before each resume, from the
	// worker's goroutine (so possibly concurrently), with the range about
	// to be asked for, the attempt number from 1 and why.
	Resumed func(off, end int64, attempt int, err error)
}

// withDefaults fills in the zero values.
func (o Options) withDefaults() Options {
	if o.Conns <= 0 {
		o.Conns = DefaultConns
	}
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	if o.Stall <= 0 {
		o.Stall = DefaultStall
	}
	switch {
	case o.MaxResumes == 0:
		o.MaxResumes = DefaultMaxResumes
	case o.MaxResumes < 0:
		o.MaxResumes = 0
	}
	switch {
	case o.ResumeDelay == 0:
		o.ResumeDelay = DefaultResumeDelay
	case o.ResumeDelay < 0:
		o.ResumeDelay = 0
	}
	return o
}

// FirstRange returns the Range header for the request that starts a
// download and learns its size: "bytes=0-(Chunk-1)". A 206 answer names
// the size in its Content-Range and is Job.First; a 200 means upstream
// ignores Range and its body is the whole blob, for one connection.
func (o Options) FirstRange() string {
	return "bytes=0-" + strconv.FormatInt(o.withDefaults().Chunk-1, 10)
}

// permanentError marks an error that resuming cannot help.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err, returned by a Source, as one that resuming cannot
// help (a 404, a refused token, an upstream that ignores Range): Fetch
// stops at once instead of retrying the chunk. errors.Is and errors.As
// still see err through it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// writeError carries a WriteAt failure from a worker: it is never resumed.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// Fetch fills [0, job.Size) through job.WriteAt with up to opt.Conns
// parallel chunk requests, hashes it in order into job.Hash and tells
// job.Advance as the written and hashed prefix grows (see the package
// documentation).
//
// It returns job.Size and nil when every byte is written and hashed; the
// caller then checks the digest. Otherwise it returns the first error that
// stopped it (the caller's own errors stay visible to errors.Is: WriteAt's
// error as it is, a Source's error wrapped, ctx.Err() when ctx ended) and
// the prefix that is written and hashed, from which the caller may go on
// over one connection. Every goroutine it started has ended and no WriteAt
// is running when it returns.
func Fetch(ctx context.Context, job Job, opt Options) (int64, error) {
	if job.Size <= 0 || job.Source == nil || job.WriteAt == nil || job.ReadAt == nil || job.Hash == nil {
		if job.First != nil {
			job.First.Close()
		}
		if job.Size == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("segfetch: a job needs a size above 0 (got %d), a Source, WriteAt, ReadAt and Hash", job.Size)
	}
	f := newFetcher(ctx, job, opt.withDefaults())
	defer f.cancel()
	return f.run(ctx)
}

// fetcher is the state of one Fetch.
type fetcher struct {
	job    Job
	opt    Options
	ctx    context.Context // the workers' context; cancelled to stop them all
	cancel context.CancelFunc
	chunks []chunk
	next   atomic.Int64  // index of the next chunk to claim
	notify chan struct{} // a worker wrote bytes; buffered, never blocks

	failOnce sync.Once
	err      error // the first error that stopped the Fetch; set once

	hashed int64 // bytes hashed and announced; the caller's goroutine only
	head   int   // first chunk not yet complete; the caller's goroutine only
}

// chunk is one Range request's worth of the blob, [off, end).
type chunk struct {
	off, end int64
	done     atomic.Int64 // bytes from off written, in order
}

func newFetcher(ctx context.Context, job Job, opt Options) *fetcher {
	f := &fetcher{job: job, opt: opt, notify: make(chan struct{}, 1)}
	f.ctx, f.cancel = context.WithCancel(ctx)
	n := (job.Size + opt.Chunk - 1) / opt.Chunk
	f.chunks = make([]chunk, n)
	for i := range f.chunks {
		off := int64(i) * opt.Chunk
		f.chunks[i].off, f.chunks[i].end = off, min(off+opt.Chunk, job.Size)
	}
	return f
}

// run starts the workers, hashes and announces the prefix as it grows, and
// waits for every worker to end.
func (f *fetcher) run(ctx context.Context) (int64, error) {
	var wg sync.WaitGroup
	first := f.job.First
	if first != nil {
		f.next.Store(1) // chunk 0 is the first worker's, from First
	}
	for i := range min(f.opt.Conns, len(f.chunks)) {
		var c *chunk
		var body io.ReadCloser
		if i == 0 && first != nil {
			c, body = &f.chunks[0], first
		}
		wg.Go(func() { f.work(c, body) })
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	buf := make([]byte, bufSize)
	readFailed := false
	for {
		if err := f.hashTo(ctx, buf, f.written()); err != nil {
			f.fail(err)
			readFailed = true
			break
		}
		if f.hashed == f.job.Size || ctx.Err() != nil {
			break
		}
		select {
		case <-f.notify:
			continue
		case <-f.ctx.Done():
		case <-done:
		}
		break
	}
	f.cancel()
	<-done
	if !readFailed && f.hashed < f.job.Size && ctx.Err() == nil {
		// What the workers wrote before they stopped is still good: hash
		// it too, so a caller that goes on alone starts from there.
		if err := f.hashTo(ctx, buf, f.written()); err != nil {
			f.fail(err)
		}
	}
	if f.hashed == f.job.Size {
		return f.hashed, nil
	}
	f.fail(ctx.Err())
	f.fail(fmt.Errorf("segfetch: the chunk workers ended at byte %d of %d without an error", f.hashed, f.job.Size))
	return f.hashed, f.err
}

// fail records err as the reason the Fetch stops, unless one was recorded
// already or err is nil, and stops every worker.
func (f *fetcher) fail(err error) {
	if err == nil {
		return
	}
	f.failOnce.Do(func() {
		f.err = err
		f.cancel()
	})
}

// written returns the end of the contiguous prefix the workers have
// written.
func (f *fetcher) written() int64 {
	for f.head < len(f.chunks) {
		c := &f.chunks[f.head]
		d := c.done.Load()
		if c.off+d < c.end {
			return c.off + d
		}
		f.head++
	}
	return f.job.Size
}

// hashTo reads back [f.hashed, to), hashes it and announces it, one buffer
// at a time. It stops early, without an error, when ctx ends.
func (f *fetcher) hashTo(ctx context.Context, buf []byte, to int64) error {
	for f.hashed < to {
		if ctx.Err() != nil {
			return nil
		}
		b := buf[:min(int64(len(buf)), to-f.hashed)]
		if n, err := f.job.ReadAt.ReadAt(b, f.hashed); n < len(b) {
			return fmt.Errorf("segfetch: reading back bytes %d-%d to hash them: %w", f.hashed, f.hashed+int64(len(b))-1, err)
		}
		f.job.Hash.Write(b)
		f.hashed += int64(len(b))
		if f.job.Advance != nil {
			f.job.Advance(f.hashed)
		}
	}
	return nil
}

// claim returns the lowest chunk no worker has taken, or nil.
func (f *fetcher) claim() *chunk {
	i := f.next.Add(1) - 1
	if i >= int64(len(f.chunks)) {
		return nil
	}
	return &f.chunks[i]
}

// signal tells the hashing loop that bytes were written.
func (f *fetcher) signal() {
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// work fetches c (from body, when not nil) and then claimed chunks until
// none are left or the Fetch stops.
func (f *fetcher) work(c *chunk, body io.ReadCloser) {
	buf := make([]byte, bufSize)
	if c == nil {
		c = f.claim()
	}
	for c != nil {
		if err := f.fetchChunk(c, body, buf); err != nil {
			f.fail(err)
			return
		}
		body = nil
		c = f.claim()
	}
}

// fetchChunk fills c, from body when not nil and then from Source, resuming
// from the first missing byte after a cut, a stall or a Source error that
// is not permanent, at most MaxResumes times.
func (f *fetcher) fetchChunk(c *chunk, body io.ReadCloser, buf []byte) error {
	var last error
	for attempt := 0; ; attempt++ {
		pos := c.off + c.done.Load()
		if attempt > 0 {
			if attempt > f.opt.MaxResumes {
				return fmt.Errorf("bytes %d-%d: upstream failed %d times, last: %w", pos, c.end-1, attempt, last)
			}
			if f.opt.Resumed != nil {
				f.opt.Resumed(pos, c.end, attempt, last)
			}
			if err := sleep(f.ctx, f.opt.ResumeDelay*time.Duration(attempt)); err != nil {
				return err
			}
		}
		if body == nil {
			var err error
			body, err = f.job.Source(f.ctx, pos, c.end)
			if f.ctx.Err() != nil {
				if body != nil {
					body.Close()
				}
				return f.ctx.Err()
			}
			if err != nil {
				if body != nil {
					body.Close()
					body = nil
				}
				if IsPermanent(err) {
					return fmt.Errorf("bytes %d-%d: %w", pos, c.end-1, err)
				}
				last = err
				continue
			}
		}
		err := f.copyChunk(c, body, buf)
		body = nil
		var we *writeError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &we):
			return we.err
		case f.ctx.Err() != nil:
			return f.ctx.Err()
		}
		last = err
	}
}

// copyChunk copies body into c from its first missing byte until c is
// full, and closes body. A body that sends nothing for Stall, or any body
// when the Fetch stops, is closed under the Read to cut it.
func (f *fetcher) copyChunk(c *chunk, body io.ReadCloser, buf []byte) error {
	var stalled atomic.Bool
	closeBody := sync.OnceFunc(func() { body.Close() })
	timer := time.AfterFunc(f.opt.Stall, func() {
		stalled.Store(true)
		closeBody()
	})
	stop := context.AfterFunc(f.ctx, closeBody)
	defer func() {
		timer.Stop()
		stop()
		closeBody()
	}()
	for {
		pos := c.off + c.done.Load()
		if pos >= c.end {
			return nil
		}
		n, rerr := body.Read(buf[:min(int64(len(buf)), c.end-pos)])
		if n > 0 {
			timer.Stop() // a slow write is not a stalled upstream
			if err := f.job.WriteAt(buf[:n], pos); err != nil {
				return &writeError{err}
			}
			c.done.Add(int64(n))
			f.signal()
			timer.Reset(f.opt.Stall)
		}
		if rerr != nil {
			switch {
			case c.off+c.done.Load() >= c.end:
				return nil // every byte arrived; a late error loses nothing
			case stalled.Load():
				return fmt.Errorf("%w for %v", ErrStalled, f.opt.Stall)
			case rerr == io.EOF:
				return io.ErrUnexpectedEOF
			}
			return rerr
		}
	}
}

// sleep waits d or until ctx ends, and returns ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
