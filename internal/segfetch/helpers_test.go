package segfetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/segfetch"
)

// randomBlob returns n random bytes, the same for the same seed.
func randomBlob(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// answer is how the origin answers one request; the zero value is a
// correct answer.
type answer struct {
	// status 503 answers "busy"; 200 ignores the Range header and sends
	// the whole blob.
	status int
	// shift is added to the start the Content-Range and body begin at.
	shift int64
	// cut closes the connection after this many body bytes, when > 0.
	cut int64
	// stall stops sending after this many body bytes, when > 0, until the
	// client goes away.
	stall int64
}

// span is one request's Range, [start, end); end is the blob's size for an
// open-ended one.
type span struct{ start, end int64 }

// origin is an upstream serving one blob with Range support, over a real
// HTTP server on 127.0.0.1, with faults decided per request by plan.
type origin struct {
	data      []byte // the blob
	served    []byte // what the server sends; data unless a test corrupts it
	srv       *httptest.Server
	transport *http.Transport
	client    *http.Client
	sent      atomic.Int64 // body bytes the server wrote

	mu       sync.Mutex
	rate     int64 // bytes per second per response; 0 is unlimited
	plan     func(n int, s span) answer
	requests []span
}

// newOrigin starts an origin for data, stopped when the test ends.
func newOrigin(tb testing.TB, data []byte) *origin {
	tb.Helper()
	o := &origin{data: data, served: data}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	o.transport = &http.Transport{MaxIdleConnsPerHost: 16}
	o.client = &http.Client{Transport: o.transport}
	tb.Cleanup(func() {
		o.transport.CloseIdleConnections()
		o.srv.Close()
	})
	return o
}

// setPlan sets how the next requests are answered.
func (o *origin) setPlan(plan func(n int, s span) answer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.plan = plan
}

// setRate paces every response to bytesPerSecond.
func (o *origin) setRate(bytesPerSecond int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rate = bytesPerSecond
}

// log returns the ranges asked for so far.
func (o *origin) log() []span {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]span(nil), o.requests...)
}

// parseRange reads "bytes=a-b" or "bytes=a-"; ok is false without a Range.
func parseRange(h string, size int64) (s span, ok bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return span{0, size}, false
	}
	a, b, _ := strings.Cut(spec, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return span{0, size}, false
	}
	end := size
	if b != "" {
		last, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			return span{0, size}, false
		}
		end = min(last+1, size)
	}
	return span{start, end}, true
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	size := int64(len(o.served))
	s, ranged := parseRange(r.Header.Get("Range"), size)
	o.mu.Lock()
	n := len(o.requests)
	o.requests = append(o.requests, s)
	var a answer
	if o.plan != nil {
		a = o.plan(n, s)
	}
	rate := o.rate
	o.mu.Unlock()

	switch {
	case a.status == http.StatusServiceUnavailable:
		http.Error(w, "busy", a.status)
		return
	case !ranged || a.status == http.StatusOK:
		s = span{0, size}
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
	default:
		s.start = min(max(s.start+a.shift, 0), size-1)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s.start, s.end-1, size))
		w.Header().Set("Content-Length", strconv.FormatInt(s.end-s.start, 10))
		w.WriteHeader(http.StatusPartialContent)
	}
	body := o.served[s.start:s.end]
	stop := int64(len(body))
	if a.cut > 0 {
		stop = min(stop, a.cut)
	}
	if a.stall > 0 {
		stop = min(stop, a.stall)
	}
	pw := &pacedWriter{w: w, rate: rate, ctx: r.Context(), start: time.Now(), count: &o.sent}
	if _, err := pw.Write(body[:stop]); err != nil {
		return
	}
	if stop == int64(len(body)) {
		return
	}
	http.NewResponseController(w).Flush()
	if a.stall > 0 {
		<-r.Context().Done()
		return
	}
	panic(http.ErrAbortHandler) // cut the connection mid-body
}

// pacedWriter writes to w in pieces of 32 KiB, no faster than rate bytes
// per second (0 is unlimited), counting what it writes into count.
type pacedWriter struct {
	w     io.Writer
	rate  int64
	ctx   context.Context
	start time.Time
	sent  int64
	count *atomic.Int64
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		piece := b[:min(len(b), 32<<10)]
		p.count.Add(int64(len(piece))) // before: a client that read them sees them counted
		n, err := p.w.Write(piece)
		p.count.Add(int64(n - len(piece)))
		p.sent += int64(n)
		total += n
		if err != nil {
			return total, err
		}
		b = b[n:]
		if p.rate > 0 {
			due := p.start.Add(time.Duration(float64(p.sent) / float64(p.rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-p.ctx.Done():
					t.Stop()
					return total, p.ctx.Err()
				}
			}
		}
	}
	return total, nil
}

// errNoRange is what the test's Source reports for an upstream that does
// not answer a chunk with exactly the range asked for.
var errNoRange = errors.New("upstream does not answer Range requests as asked")

// source is a Source written the way the mirror writes one: it asks for
// "Range: bytes=off-(end-1)" and accepts only a 206 whose Content-Range
// names exactly that range. A 200 or another range is Permanent, for the
// caller to fall back to one connection; other failures are retried.
func (o *origin) source(size int64) segfetch.Source {
	return func(ctx context.Context, off, end int64) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.srv.URL+"/blob", nil)
		if err != nil {
			return nil, segfetch.Permanent(err)
		}
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
		resp, err := o.client.Do(req)
		if err != nil {
			return nil, err
		}
		want := fmt.Sprintf("bytes %d-%d/%d", off, end-1, size)
		switch got := resp.Header.Get("Content-Range"); {
		case resp.StatusCode == http.StatusPartialContent && got == want && resp.ContentLength == end-off:
			return resp.Body, nil
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
			resp.Body.Close()
			return nil, segfetch.Permanent(fmt.Errorf("%w: asked for %s, got %d %q", errNoRange, want, resp.StatusCode, got))
		default:
			resp.Body.Close()
			return nil, fmt.Errorf("upstream answered %d", resp.StatusCode)
		}
	}
}

// openFirst makes the request that learns the size, with rng as its Range
// header, and returns its body.
func (o *origin) openFirst(tb testing.TB, rng string) io.ReadCloser {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, o.srv.URL+"/blob", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Range", rng)
	resp, err := o.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusPartialContent {
		tb.Fatalf("first request: %d", resp.StatusCode)
	}
	return resp.Body
}

// countingHash is a hash.Hash that counts the bytes written to it.
type countingHash struct {
	hash.Hash
	n atomic.Int64
}

func (c *countingHash) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	return c.Hash.Write(b)
}

// closeTracker records whether a body was closed, and how much of it
// was read.
type closeTracker struct {
	io.ReadCloser
	closed atomic.Bool
	read   atomic.Int64
}

func (c *closeTracker) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func (c *closeTracker) Close() error {
	c.closed.Store(true)
	return c.ReadCloser.Close()
}

// resumeCall is one call of Options.Resumed.
type resumeCall struct {
	off, end int64
	attempt  int
	err      error
}

// goroutines returns how many goroutines run and how many of them are in
// the package under test.
func goroutines() (all, ours int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("segfetch.(*fetcher)")) {
			ours++
		}
	}
	return runtime.NumGoroutine(), ours
}

// settle waits until no goroutine of the package runs and the count is back
// to before, and fails the test (with the stacks) if that does not happen.
func settle(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		all, ours := goroutines()
		if ours == 0 && all <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines did not settle: %d running (%d before), %d in segfetch:\n%s",
				all, before, ours, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
