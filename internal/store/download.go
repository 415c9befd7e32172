package store

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/segfetch"
)

const copyBufferSize = 256 << 10

// ErrCacheWrite marks a download that failed because its bytes could not
// be written to the cache's disk (full, read-only, gone): not an upstream
// problem, so it is not resumed, and its readers go on straight from
// upstream.
var ErrCacheWrite = errors.New("cannot write to the cache directory")

// writeRetries bounds how often one write is retried after making room.
const writeRetries = 3

// Body is upstream's answer to a read of a blob's bytes.
type Body struct {
	io.ReadCloser
	// Start is the byte of the blob the body begins with: the one asked
	// for, or 0 from an upstream that ignored the request for a range.
	// An upstream that found nothing left to send (the range starts at
	// the blob's end) answers an empty body that starts at the end.
	Start int64
	// Size is the blob's whole size in bytes; -1 when upstream did not
	// say.
	Size int64
	// End is one past the last byte of the blob the body holds, when
	// upstream answered with a part of the blob (a 206's Content-Range).
	// 0 means the body runs to the blob's end (a 200, or a 206 to the
	// end).
	End int64
	// store marks a body read from the store behind the cache, not from
	// upstream: its bytes count as Stats.RemoteBytes.
	store bool
}

// counter is the figure b's bytes add to.
func (b Body) counter(st *Stats) *atomic.Int64 {
	if b.store {
		return &st.RemoteBytes
	}
	return &st.UpstreamBytes
}

// partial reports whether the body holds a part of the blob that ends
// before the blob does (or before an end upstream did not name).
func (b Body) partial() bool {
	return b.End > 0 && (b.Size < 0 || b.End < b.Size)
}

// answering returns b as the answer to a request for bytes up to end (-1:
// to the end): one for the rest of a blob of unknown size runs to its end,
// whatever last byte upstream named.
func (b Body) answering(end int64) Body {
	if end < 0 && b.Size < 0 {
		b.End = 0
	}
	return b
}

// OpenFunc asks upstream for the blob's bytes [from, end); end -1 means
// to the blob's end. from == 0 starts a download, from > 0 resumes one or
// asks for one chunk of a segmented download. An error means upstream
// refused or could not be reached; oci.ErrNotFound, oci.ErrDenied and
// context.Canceled end the download, other errors are retried.
//
// It is called once per request, from several goroutines at once for a
// segmented download, so it should get a fresh token or signed URL when
// the one it has expired.
//
// This is the seam between the store and the upstream client: the store
// says which bytes it needs and checks what it gets; how they are asked
// for (requests, tokens, status codes, Content-Range) is the caller's.
type OpenFunc func(ctx context.Context, from, end int64) (Body, error)

// segmenting is how a download splits a large blob into parallel Range
// requests (package segfetch). The zero value fetches every blob over one
// connection.
type segmenting struct {
	conns     int   // requests at once; at most 1 turns segmenting off
	chunk     int64 // bytes per request
	threshold int64 // blobs of at most this many bytes take one connection
}

// newSegmenting fills in the defaults of BlobsConfig's download fields.
func newSegmenting(conns int, chunk, threshold int64) segmenting {
	if chunk <= 0 {
		chunk = segfetch.DefaultChunk
	}
	if threshold <= 0 {
		threshold = segfetch.DefaultThreshold
	}
	return segmenting{conns: conns, chunk: chunk, threshold: threshold}
}

// on reports whether a download asks for its first chunk only, to learn
// whether the blob is worth splitting.
func (s segmenting) on() bool { return s.conns > 1 }

// download is one upstream blob download into a temp file. Any number of
// clients read the temp file as it grows; the download runs in its own
// context, so a client that goes away does not stop it.
type download struct {
	digest digest.Digest
	tmp    string // temp file path, valid while the download is registered
	tune   Tuning
	seg    segmenting
	// makeRoom frees disk space (evicting least recently used blobs) after
	// a write found the disk full; false when nothing could be freed.
	makeRoom func(need int64) bool
	// src chooses between the store behind the cache and upstream; nil
	// without a store.
	src *origin
	// roomMu serializes makeRoom among the chunks of one download, and
	// roomGen counts the times it freed something, so that chunks that
	// found the disk full at once evict once, not once each.
	roomMu  sync.Mutex
	roomGen atomic.Int64

	ready    chan struct{} // closed once size and startErr are set
	size     int64         // the size upstream announced, -1 when it sent none
	startErr error         // upstream refused before the first byte

	mu sync.Mutex
	// written is how many bytes from the blob's start are written and
	// hashed, in order. The download's goroutine alone changes it (under
	// mu) and reads it without mu; readers go through visible.
	written  int64
	finished bool          // no more bytes will come
	err      error         // why it failed, when finished without success
	progress chan struct{} // closed and replaced on every change
}

func newDownload(d digest.Digest, tmp string, tune Tuning, seg segmenting) *download {
	return &download{digest: d, tmp: tmp, tune: tune, seg: seg, size: -1, ready: make(chan struct{}), progress: make(chan struct{})}
}

// visible returns how many bytes a reader may send now, whether the
// download has ended, and its error. Until the digest is verified the last
// byte is held back, so a client never receives a complete body that turns
// out to be wrong: it sees a cut connection instead.
func (dl *download) visible() (n int64, finished bool, changed <-chan struct{}, err error) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	n = dl.written
	if !dl.finished || dl.err != nil {
		if dl.size >= 0 && n >= dl.size {
			n = dl.size - 1
		}
	}
	return n, dl.finished, dl.progress, dl.err
}

// verified reports whether every byte is written and matched the digest.
func (dl *download) verified() bool {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.finished && dl.err == nil
}

// advance announces n more bytes written and hashed in order.
func (dl *download) advance(n int64) {
	dl.mu.Lock()
	dl.written += n
	close(dl.progress)
	dl.progress = make(chan struct{})
	dl.mu.Unlock()
}

func (dl *download) finish(err error) {
	dl.mu.Lock()
	dl.finished, dl.err = true, err
	close(dl.progress)
	dl.progress = make(chan struct{})
	dl.mu.Unlock()
}

// copyTo sends bytes [from, to) of the growing file to w as they arrive;
// to < 0 means up to the end. f is the reader's own handle on the temp file.
func (dl *download) copyTo(ctx context.Context, w io.Writer, f *os.File, from, to int64) (int64, error) {
	pos := from
	for to < 0 || pos < to {
		avail, finished, changed, err := dl.visible()
		if to >= 0 && avail > to {
			avail = to
		}
		if avail > pos {
			if _, err := f.Seek(pos, io.SeekStart); err != nil {
				return pos - from, err
			}
			// A LimitedReader of an *os.File lets net/http use sendfile.
			n, err := io.Copy(w, io.LimitReader(f, avail-pos))
			pos += n
			if err != nil {
				return pos - from, err
			}
			continue
		}
		if finished {
			if err != nil {
				return pos - from, err
			}
			return pos - from, nil
		}
		// Everything there is has been written: push it out before waiting
		// for more, or a client that joined a download would see nothing
		// until its response buffer filled. Not before the first byte: a
		// download that fails before it still gets its error status.
		if pos > from {
			flush(w)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return pos - from, ctx.Err()
		}
	}
	return pos - from, nil
}

// flush sends what w buffers, when w can: an http.ResponseWriter (or a
// wrapper with a Flush method) can.
func flush(w io.Writer) {
	switch f := w.(type) {
	case interface{ Flush() error }:
		_ = f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
}

// run downloads into the temp file, resuming after dropped connections,
// verifies the digest and hands the file to commit. It always finishes dl.
func (dl *download) run(ctx context.Context, open OpenFunc, st *Stats, log *slog.Logger, commit func(error) error) {
	st.InFlight.Add(1)
	// Read and write: a segmented download reads its chunks back to hash
	// them in order.
	f, err := os.OpenFile(dl.tmp, os.O_RDWR, 0)
	if err != nil {
		st.InFlight.Add(-1)
		dl.startErr = err
		close(dl.ready)
		dl.finish(err)
		_ = commit(err)
		return
	}
	h := dl.digest.Algorithm().Hash()
	err = dl.fetch(ctx, open, f, h, st, log)
	if err == nil && dl.size >= 0 && dl.written != dl.size {
		err = fmt.Errorf("blob %s: got %d bytes, upstream announced %d", dl.digest, dl.written, dl.size)
	}
	if err == nil && digest.NewDigest(dl.digest.Algorithm(), h) != dl.digest {
		err = fmt.Errorf("blob %s from %s: %w", dl.digest, dl.src.name(), oci.ErrDigestMismatch)
	}
	st.InFlight.Add(-1) // the upstream transfer is over
	if err == nil {
		// Readers may send the last byte now; the fsync that makes the
		// file durable does not hold them up.
		dl.finish(nil)
		if err = f.Truncate(dl.written); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if cerr := commit(err); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		log.Warn("blob download failed", "digest", string(dl.digest), "bytes", dl.written, "err", err)
	}
	dl.finish(err)
}

// fetch writes the blob into f and h in order. The first request learns
// the size: a large blob whose upstream answers its first chunk with a 206
// goes on over parallel Range requests; everything else, and a segmented
// download whose upstream stops honouring ranges, over one connection.
func (dl *download) fetch(ctx context.Context, open OpenFunc, f *os.File, h hash.Hash, st *Stats, log *slog.Logger) error {
	body, err := dl.start(ctx, open)
	if err != nil {
		return err
	}
	if dl.seg.on() && body.partial() && body.Size > dl.seg.threshold {
		err := dl.fetchSegments(ctx, open, f, body, h, st, log)
		if !errors.Is(err, errOneConnection) {
			return err
		}
		log.Info("blob download goes on over one connection", "digest", string(dl.digest), "from", dl.written, "err", err)
		body = Body{}
	}
	return dl.fetchOne(ctx, open, f, h, body, st, log)
}

// start sends the download's first request, learns the size from its
// answer and tells waiting readers. With segmenting on it asks for the
// first chunk only: "Range: bytes=0-(chunk-1)", segfetch's FirstRange.
func (dl *download) start(ctx context.Context, open OpenFunc) (Body, error) {
	end := int64(-1)
	if dl.seg.on() {
		end = dl.seg.chunk
	}
	body, err := open(ctx, 0, end)
	body = body.answering(end)
	if err == nil && body.Start != 0 {
		body.Close()
		body, err = Body{}, fmt.Errorf("%w: blob %s: upstream answered from byte %d to a request from byte 0",
			oci.ErrUnreachable, dl.digest, body.Start)
	}
	if err == nil {
		dl.size = body.Size
	}
	dl.startErr = err
	close(dl.ready)
	return body, err
}

// errOneConnection marks a segmented download that cannot go on in
// parallel: upstream answered a chunk with something else than exactly
// that chunk. The bytes before dl.written are good; the rest comes over
// one connection.
var errOneConnection = errors.New("upstream does not answer Range requests as asked")

// fetchSegments fetches the blob with segfetch, first chunk from first.
// It returns nil when every byte is written and hashed, an error wrapping
// errOneConnection when the caller should go on over one connection from
// dl.written with the same hash, and any other error to end the download.
func (dl *download) fetchSegments(ctx context.Context, open OpenFunc, f *os.File, first Body, h hash.Hash, st *Stats, log *slog.Logger) error {
	size := dl.size
	source := func(ctx context.Context, off, end int64) (io.ReadCloser, error) {
		body, err := open(ctx, off, end)
		if err != nil {
			if errors.Is(err, oci.ErrNotFound) || errors.Is(err, oci.ErrDenied) {
				return nil, segfetch.Permanent(err)
			}
			return nil, err
		}
		if body.Start != off || body.End != end || body.Size != size {
			body.Close()
			return nil, segfetch.Permanent(fmt.Errorf("%w: asked for bytes %d-%d of %d, got %s",
				errOneConnection, off, end-1, size, body.describe()))
		}
		return countedBody{body, body.counter(st)}, nil
	}
	tune := dl.tune
	opt := segfetch.Options{
		Conns: dl.seg.conns, Chunk: dl.seg.chunk, Stall: tune.StallTimeout,
		MaxResumes: tune.MaxResumes, ResumeDelay: tune.ResumeDelay,
		Resumed: func(off, end int64, attempt int, err error) {
			log.Info("resuming blob chunk", "digest", string(dl.digest), "from", off, "to", end, "attempt", attempt, "err", err)
		},
	}
	if opt.MaxResumes <= 0 {
		opt.MaxResumes = -1 // none, as Tuning's 0 says; segfetch's 0 is its default
	}
	if opt.ResumeDelay <= 0 {
		opt.ResumeDelay = -1
	}
	prefix, err := segfetch.Fetch(ctx, segfetch.Job{
		Size:    size,
		First:   countedBody{first, first.counter(st)},
		Source:  source,
		WriteAt: func(b []byte, off int64) error { return dl.writeAt(f, b, off) },
		ReadAt:  f,
		Hash:    h,
		Advance: func(n int64) { dl.advance(n - dl.written) },
	}, opt)
	if prefix != dl.written {
		dl.advance(prefix - dl.written) // segfetch announced every byte; this only guards
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, oci.ErrNotFound), errors.Is(err, oci.ErrDenied), errors.Is(err, ErrCacheWrite):
		return err
	case segfetch.IsPermanent(err) && errors.Is(err, errOneConnection):
		return err
	}
	return fmt.Errorf("blob %s: %w", dl.digest, err)
}

// describe says what a body holds, for errors.
func (b Body) describe() string {
	switch {
	case b.End > 0:
		return fmt.Sprintf("bytes %d-%d of %d", b.Start, b.End-1, b.Size)
	case b.Start == 0:
		return fmt.Sprintf("the whole blob (%d bytes)", b.Size)
	}
	return fmt.Sprintf("bytes %d- of %d", b.Start, b.Size)
}

// countedBody adds every byte read from upstream, or from the store, to a
// counter (Body.counter), which chunks read at once share.
type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countedBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// fetchOne copies the blob over one connection from dl.written on: from
// body first when it is open (the first answer), then from new requests.
// A body cut short is resumed where it stopped, at most MaxResumes times;
// a body that ends where upstream said it would (a 206 for the first chunk
// of a blob too small to split) goes on with the next request at once.
func (dl *download) fetchOne(ctx context.Context, open OpenFunc, f *os.File, h io.Writer, body Body, st *Stats, log *slog.Logger) error {
	buf := make([]byte, copyBufferSize)
	var lastErr error
	for failures := 0; ; {
		if body.ReadCloser == nil {
			if failures > dl.tune.MaxResumes {
				return fmt.Errorf("blob %s: upstream connection failed %d times, last: %w", dl.digest, failures, lastErr)
			}
			if failures > 0 {
				log.Info("resuming blob download", "digest", string(dl.digest), "from", dl.written, "attempt", failures, "err", lastErr)
				select {
				case <-time.After(dl.tune.ResumeDelay * time.Duration(failures)):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			var err error
			if body, err = dl.resume(ctx, open); err != nil {
				if errors.Is(err, oci.ErrNotFound) || errors.Is(err, oci.ErrDenied) || errors.Is(err, context.Canceled) {
					return err
				}
				lastErr = err
				failures++
				continue
			}
		}
		end, from := dl.size, dl.written
		if body.partial() {
			end = body.End
		}
		err := dl.copyBody(ctx, body, end, f, h, buf, st)
		body.Close()
		body = Body{}
		if errors.Is(err, ErrCacheWrite) {
			return err // the disk, not the connection: resuming cannot help
		}
		if dl.size >= 0 && dl.written == dl.size && ctx.Err() == nil {
			// Every announced byte arrived; a connection that fails after the
			// last one loses nothing (and a Range from the end would be a 416).
			// The digest check that follows decides.
			return nil
		}
		if err == nil && (end < 0 || end == dl.size) {
			return nil
		}
		if err == nil && dl.written > from {
			continue // that part is in; ask for the rest
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = fmt.Errorf("%w: upstream answered an empty part at byte %d", oci.ErrUnreachable, from)
		}
		lastErr = err
		failures++
	}
}

// resume asks for the blob from dl.written on. An answer from byte 0 (an
// upstream that ignored the range) skips what is already written; one
// that starts anywhere else than asked is refused, so no byte lands at the
// wrong place.
func (dl *download) resume(ctx context.Context, open OpenFunc) (Body, error) {
	body, err := open(ctx, dl.written, -1)
	if err != nil {
		return Body{}, err
	}
	body = body.answering(-1)
	switch {
	case body.Start == dl.written:
		return body, nil
	case body.Start == 0:
		if _, err := io.CopyN(io.Discard, body, dl.written); err != nil {
			body.Close()
			return Body{}, fmt.Errorf("%w: skipping to byte %d: %w", oci.ErrUnreachable, dl.written, err)
		}
		if body.End > 0 && body.End < dl.written {
			body.End = 0 // not a part that can end before the skipped bytes
		}
		return body, nil
	}
	body.Close()
	return Body{}, fmt.Errorf("%w: blob %s: upstream answered from byte %d to a request from byte %d",
		oci.ErrUnreachable, dl.digest, body.Start, dl.written)
}

// copyBody copies until EOF or until byte end of the blob (end < 0: EOF
// only), cutting the body when it stalls. Each read is written at its own
// offset and announced to the readers at once; a write that fails is
// retried whole at the same offset, so the file holds exactly the bytes
// that were hashed, in order, whatever a full disk did. A body that ends
// before end is io.ErrUnexpectedEOF.
func (dl *download) copyBody(ctx context.Context, body Body, end int64, f *os.File, h io.Writer, buf []byte, st *Stats) error {
	stall := time.AfterFunc(dl.tune.StallTimeout, func() { body.Close() })
	defer stall.Stop()
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			stall.Reset(dl.tune.StallTimeout)
			if err := dl.writeAt(f, buf[:n], dl.written); err != nil {
				return err
			}
			_, _ = h.Write(buf[:n])
			body.counter(st).Add(int64(n))
			dl.advance(int64(n))
		}
		if rerr == io.EOF {
			if end >= 0 && dl.written < end {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// writeAt writes all of b at off. When the disk is full it makes room and
// tries again; any other failure, or no room to be had, is ErrCacheWrite.
// The chunks of a segmented download call it at once, each at its own
// offsets: they share one eviction when the disk fills under all of them.
func (dl *download) writeAt(f *os.File, b []byte, off int64) error {
	for try := 0; ; try++ {
		gen := dl.roomGen.Load()
		_, err := f.WriteAt(b, off)
		if err == nil {
			return nil
		}
		if !isNoSpace(err) || try >= writeRetries || dl.makeRoom == nil || !dl.room(gen, int64(len(b))) {
			return fmt.Errorf("%w: %w", ErrCacheWrite, err)
		}
	}
}

// room makes room for need bytes after a write found the disk full,
// unless another chunk made room since that write began (gen is the count
// it saw then): then it lets the write try again at once.
func (dl *download) room(gen, need int64) bool {
	dl.roomMu.Lock()
	defer dl.roomMu.Unlock()
	if dl.roomGen.Load() != gen {
		return true
	}
	if !dl.makeRoom(need) {
		return false
	}
	dl.roomGen.Add(1)
	return true
}
