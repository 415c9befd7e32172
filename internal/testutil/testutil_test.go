package testutil

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTB records a Fatalf instead of stopping the test, so the helpers'
// failure paths can be checked.
type fakeTB struct {
	testing.TB
	failed atomic.Bool
	msg    string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed.Store(true)
	f.msg = format
	panic(f)
}

// run calls fn with a fakeTB and reports whether it failed.
func run(fn func(tb *fakeTB)) (failed bool) {
	tb := &fakeTB{}
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
		failed = tb.failed.Load()
	}()
	fn(tb)
	return false
}

func TestEventually(t *testing.T) {
	var n atomic.Int32
	Eventually(t, "the third call", func() bool { return n.Add(1) >= 3 })
	if n.Load() != 3 {
		t.Errorf("cond called %d times, want 3", n.Load())
	}
}

func TestAwait(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if v := Await(t, ch, "a value"); v != 7 {
		t.Errorf("Await = %d, want 7", v)
	}
	closed := make(chan string)
	close(closed)
	if v := Await(t, closed, "a closed channel"); v != "" {
		t.Errorf("Await on a closed channel = %q, want the zero value", v)
	}
}

// The failure paths, with a short patience.
func TestTimeoutsFail(t *testing.T) {
	if !run(func(tb *fakeTB) { eventuallyWithin(tb, 20*time.Millisecond, "never", func() bool { return false }) }) {
		t.Error("Eventually of a condition that never holds did not fail")
	}
	if !run(func(tb *fakeTB) { awaitWithin(tb, 20*time.Millisecond, make(chan int), "nothing") }) {
		t.Error("Await of a channel that never sends did not fail")
	}
}

func TestDigest(t *testing.T) {
	// sha256 of the empty string, as every registry knows it.
	const empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if d := Digest(nil); d != empty {
		t.Errorf("Digest(nil) = %s, want %s", d, empty)
	}
	if d := Digest([]byte("a")); !strings.HasPrefix(d, "sha256:") || len(d) != 71 || d == empty {
		t.Errorf("Digest(a) = %s", d)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filepath.Abs("../.."); root != want {
		t.Errorf("ModuleRoot = %s, want %s (two levels above this package)", root, want)
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "range=%s accept=%s", r.Header.Get("Range"), r.Header.Get("Accept"))
	}))
	defer srv.Close()
	status, body := Get(t, nil, srv.URL, "Range", "bytes=0-1", "Accept", "")
	if status != http.StatusTeapot || string(body) != "range=bytes=0-1 accept=" {
		t.Errorf("Get = %d %q", status, body)
	}
	if !run(func(tb *fakeTB) { Get(tb, nil, "http://127.0.0.1:1/") }) {
		t.Error("Get of a closed port did not fail the test")
	}
}
