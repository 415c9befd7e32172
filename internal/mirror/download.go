package mirror

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Download tuning. A stalled upstream body is cut after stallTimeout and the
// download resumes with a Range request, at most maxResumes times.
var (
	stallTimeout = 60 * time.Second
	maxResumes   = 5
	resumeDelay  = 200 * time.Millisecond
)

const copyBufferSize = 256 << 10

// errCacheWrite marks a download that failed because its bytes could not be
// written to the cache's disk (full, read-only, gone): not an upstream
// problem, so it is not resumed, and its readers go on straight from
// upstream (see passThrough).
var errCacheWrite = errors.New("cannot write to the cache directory")

// writeRetries bounds how often one write is retried after making room.
const writeRetries = 3

// openFunc starts (from == 0) or resumes (from > 0) an upstream blob GET.
// It returns a response only for 200, 206 and, when resuming, 416; other
// answers are errors.
type openFunc func(ctx context.Context, from int64) (*http.Response, error)

// download is one upstream blob download into a temp file. Any number of
// clients read the temp file as it grows; the download runs in its own
// context, so a client that goes away does not stop it.
type download struct {
	digest digest
	tmp    string // temp file path, valid while the download is registered
	// makeRoom frees disk space (evicting least recently used blobs) after
	// a write found the disk full; false when nothing could be freed.
	makeRoom func(need int64) bool

	ready    chan struct{} // closed once size and startErr are set
	size     int64         // from Content-Length, -1 when upstream sent none
	startErr error         // upstream refused before the first byte

	mu       sync.Mutex
	written  int64
	finished bool          // no more bytes will come
	err      error         // why it failed, when finished without success
	progress chan struct{} // closed and replaced on every change
}

func newDownload(d digest, tmp string) *download {
	return &download{digest: d, tmp: tmp, size: -1, ready: make(chan struct{}), progress: make(chan struct{})}
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
func (dl *download) run(ctx context.Context, open openFunc, st *stats, log *slog.Logger, commit func(error) error) {
	st.inFlight.Add(1)
	f, err := os.OpenFile(dl.tmp, os.O_WRONLY, 0)
	if err != nil {
		st.inFlight.Add(-1)
		dl.startErr = err
		close(dl.ready)
		dl.finish(err)
		_ = commit(err)
		return
	}
	h := dl.digest.newHash()
	err = dl.fetch(ctx, open, f, h, st, log)
	if err == nil && dl.size >= 0 && dl.written != dl.size {
		err = fmt.Errorf("blob %s: got %d bytes, upstream announced %d", dl.digest, dl.written, dl.size)
	}
	if err == nil && !dl.digest.matches(h.Sum(nil)) {
		err = fmt.Errorf("blob %s from upstream: %w", dl.digest, ErrDigestMismatch)
	}
	st.inFlight.Add(-1) // the upstream transfer is over
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

// fetch copies the body into f and h, resuming with Range where it can.
func (dl *download) fetch(ctx context.Context, open openFunc, f *os.File, h hash.Hash, st *stats, log *slog.Logger) error {
	buf := make([]byte, copyBufferSize)
	started := false
	var lastErr error
	for attempt := 0; attempt <= maxResumes; attempt++ {
		if attempt > 0 {
			log.Info("resuming blob download", "digest", string(dl.digest), "from", dl.written, "attempt", attempt, "err", lastErr)
			select {
			case <-time.After(resumeDelay * time.Duration(attempt)):
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
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDenied) || errors.Is(err, context.Canceled) {
				return err
			}
			lastErr = err
			continue
		}
		err = dl.copyBody(ctx, body, f, h, buf, st)
		body.Close()
		if errors.Is(err, errCacheWrite) {
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
	return fmt.Errorf("blob %s: upstream connection failed %d times, last: %w", dl.digest, maxResumes+1, lastErr)
}

// open starts the body at dl.written. On the first call it learns the size.
func (dl *download) open(ctx context.Context, open openFunc, resumed bool) (io.ReadCloser, error) {
	resp, err := open(ctx, dl.written)
	if err != nil {
		return nil, err
	}
	switch {
	case !resumed && resp.StatusCode == http.StatusOK:
		dl.size = resp.ContentLength
		return resp.Body, nil
	case resumed && resp.StatusCode == http.StatusPartialContent && rangeStart(resp) == dl.written:
		return resp.Body, nil
	case resumed && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable &&
		resp.Header.Get("Content-Range") == "bytes */"+strconv.FormatInt(dl.written, 10):
		// We already had every byte: the resume starts at the end.
		drain(resp)
		return http.NoBody, nil
	case resumed && resp.StatusCode == http.StatusOK:
		// Upstream ignored Range: skip what we already have.
		if _, err := io.CopyN(io.Discard, resp.Body, dl.written); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: skipping to byte %d: %w", ErrUnreachable, dl.written, err)
		}
		return resp.Body, nil
	}
	drain(resp)
	return nil, fmt.Errorf("%w: blob %s: upstream answered %d with range %q to a request from byte %d",
		ErrUnreachable, dl.digest, resp.StatusCode, resp.Header.Get("Content-Range"), dl.written)
}

// copyBody copies until EOF, cutting the body when it stalls. Each read is
// written at its own offset and announced to the readers at once; a write
// that fails is retried whole at the same offset, so the file holds exactly
// the bytes that were hashed, in order, whatever a full disk did.
func (dl *download) copyBody(ctx context.Context, body io.ReadCloser, f *os.File, h hash.Hash, buf []byte, st *stats) error {
	stall := time.AfterFunc(stallTimeout, func() { body.Close() })
	defer stall.Stop()
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			stall.Reset(stallTimeout)
			if err := dl.writeAt(f, buf[:n], dl.written); err != nil {
				return err
			}
			h.Write(buf[:n])
			st.upstreamBytes.Add(int64(n))
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
// tries again; any other failure, or no room to be had, is errCacheWrite.
func (dl *download) writeAt(f *os.File, b []byte, off int64) error {
	for try := 0; ; try++ {
		_, err := f.WriteAt(b, off)
		if err == nil {
			return nil
		}
		if !isNoSpace(err) || try >= writeRetries || dl.makeRoom == nil || !dl.makeRoom(int64(len(b))) {
			return fmt.Errorf("%w: %w", errCacheWrite, err)
		}
	}
}

// rangeStart returns N from "Content-Range: bytes N-M/T", or -1.
func rangeStart(resp *http.Response) int64 {
	v, ok := strings.CutPrefix(resp.Header.Get("Content-Range"), "bytes ")
	if !ok {
		return -1
	}
	start, _, _ := strings.Cut(v, "-")
	n, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
