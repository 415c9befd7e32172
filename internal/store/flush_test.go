package store

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/testutil"
)

// bufferedWriter keeps what is written until Flush, as net/http's response
// buffer does; flushed reports the bytes out after each flush.
type bufferedWriter struct {
	mu      sync.Mutex
	pending bytes.Buffer
	out     bytes.Buffer
	flushed chan int
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending.Write(b)
}

func (w *bufferedWriter) Flush() {
	w.mu.Lock()
	_, _ = w.pending.WriteTo(&w.out)
	n := w.out.Len()
	w.mu.Unlock()
	select {
	case w.flushed <- n:
	default:
	}
}

// A reader waiting for more of a download first flushes what it wrote, so
// a client sees the bytes that have arrived, not nothing until its
// response buffer fills (a joined client used to wait for the stall
// timeout when upstream paused).
func TestReaderFlushesBeforeWaiting(t *testing.T) {
	up := &fakeUpstream{data: pattern(300_000, 9)}
	release := make(chan struct{})
	up.answer = func(int, int64) (Body, error) {
		return Body{ReadCloser: newGatedBody(up.data, 1000, release), Start: 0, Size: int64(len(up.data))}, nil
	}
	b, _ := newBlobs(t, testTuning, nil)
	let := sync.OnceFunc(func() { close(release) })
	t.Cleanup(let) // before the store's cleanup waits for the download
	br, err := b.Open(context.Background(), digest.FromBytes(up.data), up.open)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	w := &bufferedWriter{flushed: make(chan int, 64)}
	done := make(chan error, 1)
	go func() {
		_, err := br.CopyTo(context.Background(), w, 0, -1)
		done <- err
	}()
	// Upstream holds the body after 1000 bytes: those must reach the client.
	for n := 0; n < 1000; {
		n = testutil.Await(t, w.flushed, "a flush of the first 1000 bytes while upstream pauses")
	}
	let()
	if err := testutil.Await(t, done, "the copy to end"); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if !bytes.Equal(w.out.Bytes(), up.data) {
		t.Errorf("the client got %d bytes, want the blob's %d", w.out.Len(), len(up.data))
	}
}
