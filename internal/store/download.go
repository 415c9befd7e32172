package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/oci"
)

const copyBufferSize = 256 << 10

// ErrCacheWrite marks a download that failed because its bytes could not
// be written to the cache's disk (full, read-only, gone): not an upstream
// problem, so it is not resumed, and its readers go on straight from
// upstream.
var ErrCacheWrite = errors.New("cannot write to the cache directory")

// writeRetries bounds how often one write is retried after making room.
const writeRetries = 3

// Body is upstream's answer to a read of a blob from some byte on.
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
}

// OpenFunc asks upstream for a blob's bytes from byte from on: from == 0
// starts a download, from > 0 resumes one. An error means upstream
// refused or could not be reached; oci.ErrNotFound, oci.ErrDenied and
// context.Canceled end the download, other errors are retried.
//
// This is the seam between the store and the upstream client: the store
// says which bytes it needs and checks what it gets; how they are asked
// for (requests, tokens, status codes, Content-Range) is the caller's.
type OpenFunc func(ctx context.Context, from int64) (Body, error)

// download is one upstream blob download into a temp file. Any number of
// clients read the temp file as it grows; the download runs in its own
// context, so a client that goes away does not stop it.
type download struct {
	digest digest.Digest
	tmp    string // temp file path, valid while the download is registered
	tune   Tuning
	// makeRoom frees disk space (evicting least recently used blobs) after
	// a write found the disk full; false when nothing could be freed.
	makeRoom func(need int64) bool

	ready    chan struct{} // closed once size and startErr are set
	size     int64         // the size upstream announced, -1 when it sent none
	startErr error         // upstream refused before the first byte

	mu       sync.Mutex
	written  int64
	finished bool          // no more bytes will come
	err      error         // why it failed, when finished without success
	progress chan struct{} // closed and replaced on every change
}

func newDownload(d digest.Digest, tmp string, tune Tuning) *download {
	return &download{digest: d, tmp: tmp, tune: tune, size: -1, ready: make(chan struct{}), progress: make(chan struct{})}
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
		select {
		case <-changed:
		case <-ctx.Done():
			return pos - from, ctx.Err()
		}
	}
	return pos - from, nil
}

// run downloads into the temp file, resuming after dropped connections,
// verifies the digest and hands the file to commit. It always finishes dl.
func (dl *download) run(ctx context.Context, open OpenFunc, st *Stats, log *slog.Logger, commit func(error) error) {
	st.InFlight.Add(1)
	f, err := os.OpenFile(dl.tmp, os.O_WRONLY, 0)
	if err != nil {
		st.InFlight.Add(-1)
		dl.startErr = err
		close(dl.ready)
		dl.finish(err)
		_ = commit(err)
		return
	}
	v := dl.digest.Verifier()
	err = dl.fetch(ctx, open, f, v, st, log)
	if err == nil && dl.size >= 0 && dl.written != dl.size {
		err = fmt.Errorf("blob %s: got %d bytes, upstream announced %d", dl.digest, dl.written, dl.size)
	}
	if err == nil && !v.Verified() {
		err = fmt.Errorf("blob %s from upstream: %w", dl.digest, oci.ErrDigestMismatch)
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

// fetch copies the body into f and v, resuming where it can.
func (dl *download) fetch(ctx context.Context, open OpenFunc, f *os.File, v io.Writer, st *Stats, log *slog.Logger) error {
	buf := make([]byte, copyBufferSize)
	started := false
	var lastErr error
	for attempt := 0; attempt <= dl.tune.MaxResumes; attempt++ {
		if attempt > 0 {
			log.Info("resuming blob download", "digest", string(dl.digest), "from", dl.written, "attempt", attempt, "err", lastErr)
			select {
			case <-time.After(dl.tune.ResumeDelay * time.Duration(attempt)):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		body, err := dl.open(ctx, open, started)
		if !started {
			dl.startErr = err
			started = true
			close(dl.ready)
			if err != nil {
				return err
			}
		}
		if err != nil {
			if errors.Is(err, oci.ErrNotFound) || errors.Is(err, oci.ErrDenied) || errors.Is(err, context.Canceled) {
				return err
			}
			lastErr = err
			continue
		}
		err = dl.copyBody(ctx, body, f, v, buf, st)
		body.Close()
		if errors.Is(err, ErrCacheWrite) {
			return err // the disk, not the connection: resuming cannot help
		}
		if err == nil || (dl.size >= 0 && dl.written == dl.size && ctx.Err() == nil) {
			// Every announced byte arrived; a connection that fails after the
			// last one loses nothing (and a Range from the end would be a 416).
			// The digest check that follows decides.
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lastErr = err
	}
	return fmt.Errorf("blob %s: upstream connection failed %d times, last: %w", dl.digest, dl.tune.MaxResumes+1, lastErr)
}

// open starts the body at dl.written. On the first call it learns the
// size. A resume that upstream answers from byte 0 (it ignored the range)
// skips what is already written; one that starts anywhere else than
// asked is refused, so no byte lands at the wrong place.
func (dl *download) open(ctx context.Context, open OpenFunc, resumed bool) (io.ReadCloser, error) {
	body, err := open(ctx, dl.written)
	if err != nil {
		return nil, err
	}
	switch {
	case !resumed && body.Start == 0:
		dl.size = body.Size
		return body, nil
	case resumed && body.Start == dl.written:
		return body, nil
	case resumed && body.Start == 0:
		if _, err := io.CopyN(io.Discard, body, dl.written); err != nil {
			body.Close()
			return nil, fmt.Errorf("%w: skipping to byte %d: %w", oci.ErrUnreachable, dl.written, err)
		}
		return body, nil
	}
	body.Close()
	return nil, fmt.Errorf("%w: blob %s: upstream answered from byte %d to a request from byte %d",
		oci.ErrUnreachable, dl.digest, body.Start, dl.written)
}

// copyBody copies until EOF, cutting the body when it stalls. Each read is
// written at its own offset and announced to the readers at once; a write
// that fails is retried whole at the same offset, so the file holds exactly
// the bytes that were hashed, in order, whatever a full disk did.
func (dl *download) copyBody(ctx context.Context, body io.ReadCloser, f *os.File, v io.Writer, buf []byte, st *Stats) error {
	stall := time.AfterFunc(dl.tune.StallTimeout, func() { body.Close() })
	defer stall.Stop()
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			stall.Reset(dl.tune.StallTimeout)
			if err := dl.writeAt(f, buf[:n], dl.written); err != nil {
				return err
			}
			_, _ = v.Write(buf[:n])
			st.UpstreamBytes.Add(int64(n))
			dl.advance(int64(n))
		}
		if rerr == io.EOF {
			if dl.size >= 0 && dl.written < dl.size {
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
func (dl *download) writeAt(f *os.File, b []byte, off int64) error {
	for try := 0; ; try++ {
		_, err := f.WriteAt(b, off)
		if err == nil {
			return nil
		}
		if !isNoSpace(err) || try >= writeRetries || dl.makeRoom == nil || !dl.makeRoom(int64(len(b))) {
			return fmt.Errorf("%w: %w", ErrCacheWrite, err)
		}
	}
}
