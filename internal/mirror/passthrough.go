package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/opencontainers/go-digest"
)

// This file is the blob path for a cache that cannot take the blob: the
// disk is full even after eviction, or the cache directory cannot be
// written. The client is served straight from upstream, never cut for it,
// and still never receives a complete body that does not match its digest.

// serveUncached answers a blob GET without the cache: one upstream GET,
// streamed to this client alone. The last byte waits for the digest.
func (s *server) serveUncached(w *recorder, r *http.Request, rt *route, sess *session) error {
	body, err := s.blobFetcher(rt, sess)(r.Context(), 0, -1)
	if err != nil {
		return blobError(rt, err)
	}
	defer body.Close()
	s.stats.streamedUncached()
	setBlobHeaders(w, rt.digest)
	w.source = sourceMiss
	s.countSource(sourceMiss)
	w.Header().Set("X-Hubmirror-Cache", string(sourceMiss))
	if body.Size >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(body.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	n, err := streamVerified(w, body, rt.digest.Verifier(), rt.digest, 0, -1)
	s.stats.bytesFromUpstream.Add(n)
	if err != nil {
		if r.Context().Err() == nil {
			s.log.Warn("blob stream cut", "registry", rt.registry.name, "name", rt.repo, "digest", string(rt.digest), "sent", n, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}

// passThrough sends the blob's bytes [pos, to) (to < 0: to the end) straight
// from upstream, after a download into prefix failed for want of disk. The
// first pos bytes are read back from prefix (they are exactly what that
// download hashed) so that the whole blob is verified before the last byte
// the client asked for goes out.
func (s *server) passThrough(ctx context.Context, w io.Writer, rt *route, sess *session, prefix *os.File, pos, to int64) (int64, error) {
	v := rt.digest.Verifier()
	if _, err := io.Copy(v, io.NewSectionReader(prefix, 0, pos)); err != nil {
		return 0, fmt.Errorf("read back the first %d bytes: %w", pos, err)
	}
	body, err := s.blobFetcher(rt, sess)(ctx, pos, -1)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	switch body.Start {
	case pos:
	case 0:
		// Upstream sent it all from the start: hash its bytes instead.
		v = rt.digest.Verifier()
		if _, err := io.CopyN(v, body, pos); err != nil {
			return 0, fmt.Errorf("%w: reading the blob's first %d bytes again: %w", ErrUnreachable, pos, err)
		}
	default:
		return 0, fmt.Errorf("%w: upstream answered from byte %d to a request from byte %d",
			ErrUnreachable, body.Start, pos)
	}
	return streamVerified(w, body, v, rt.digest, pos, to)
}

// streamVerified copies body, whose first byte is byte pos of the blob, to
// w, hashing every byte into v. Only bytes before to (to < 0: all) go to w,
// and the last of them is held back until the whole blob has been read and
// matched d: a wrong blob reaches the client as a cut connection.
func streamVerified(w io.Writer, body io.Reader, v digest.Verifier, d digest.Digest, pos, to int64) (int64, error) {
	out := &holdLast{w: w}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			_, _ = v.Write(buf[:n])
			chunk := buf[:n]
			if to >= 0 {
				chunk = chunk[:max(min(int64(n), to-pos), 0)]
			}
			pos += int64(n)
			if err := out.write(chunk); err != nil {
				return out.sent, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return out.sent, fmt.Errorf("%w: %w", ErrUnreachable, rerr)
		}
	}
	if !v.Verified() {
		return out.sent, fmt.Errorf("blob %s from upstream: %w", d, ErrDigestMismatch)
	}
	return out.sent, out.flush()
}

// holdLast writes all but the last byte it was given; flush sends that one.
type holdLast struct {
	w    io.Writer
	last []byte
	sent int64
}

func (hl *holdLast) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := hl.send(hl.last); err != nil {
		return err
	}
	hl.last = append(hl.last[:0], p[len(p)-1])
	return hl.send(p[:len(p)-1])
}

func (hl *holdLast) flush() error {
	err := hl.send(hl.last)
	hl.last = nil
	return err
}

func (hl *holdLast) send(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := hl.w.Write(p)
	hl.sent += int64(n)
	if err != nil {
		return err
	}
	if n < len(p) {
		return errors.New("short write to the client")
	}
	return nil
}
