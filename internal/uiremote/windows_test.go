//go:build unix

package uiremote

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/testutil"
)

// spawner starts a real child process per spawn and keeps them.
type spawner struct {
	mu   sync.Mutex
	argv []string
	fail error
	cmds []*exec.Cmd
}

func (s *spawner) spawn() (*exec.Cmd, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		s.cmds = append(s.cmds, nil)
		return nil, s.fail
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.cmds = append(s.cmds, cmd)
	return cmd, nil
}

func (s *spawner) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.cmds)
}

// windowsRig is a Windows served to a Client, as the parent serves the
// window process; the test plays the window process.
type windowsRig struct {
	w   *Windows
	sp  *spawner
	c   *Client
	log *syncBuffer
}

func newWindowsRig(t *testing.T, argv ...string) *windowsRig {
	t.Helper()
	sp := &spawner{argv: argv}
	log, buf := newLog()
	w := NewWindows(sp.spawn, log)
	t.Cleanup(w.Close)
	c := newRig(t, NewHandler(newFake(), nil, w)).c
	return &windowsRig{w: w, sp: sp, c: c, log: buf}
}

// attach opens the Windows stream for the rest of the test.
func (r *windowsRig) attach(t *testing.T) <-chan WindowRequest {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	ch, err := r.c.Windows(ctx)
	if err != nil {
		t.Fatalf("Windows: %v", err)
	}
	return ch
}

// noProcess reports whether w has no current process generation.
func (w *Windows) noProcess() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen == nil
}

// want receives the next request and checks it.
func want(t *testing.T, ch <-chan WindowRequest, seq int, name string) {
	t.Helper()
	got, ok := recv(t, ch)
	if !ok || got != (WindowRequest{Seq: seq, Name: name}) {
		t.Fatalf("got %+v (open %v), want seq %d %q", got, ok, seq, name)
	}
}

// TestWindowsOpenBeforeAttach: requests made before the process attaches
// start one process and are delivered, in order, when it attaches.
func TestWindowsOpenBeforeAttach(t *testing.T) {
	r := newWindowsRig(t, "sleep", "30")
	for _, name := range []string{"settings", "cache", "about"} {
		r.w.Open(name)
	}
	if n := r.sp.count(); n != 1 {
		t.Fatalf("%d processes spawned, want 1", n)
	}
	ch := r.attach(t)
	want(t, ch, 1, "settings")
	want(t, ch, 2, "cache")
	want(t, ch, 3, "about")
	r.w.Open("log")
	want(t, ch, 4, "log")
	if n := r.sp.count(); n != 1 {
		t.Errorf("%d processes spawned, want 1", n)
	}
}

// TestWindowsIdle: Idle with an older seq than the last request sent says
// stay, and the newer request arrives; Idle with the last one says exit,
// ends the stream, and the next Open spawns a new process.
func TestWindowsIdle(t *testing.T) {
	r := newWindowsRig(t, "sleep", "30")
	r.w.Open("settings")
	ch := r.attach(t)
	want(t, ch, 1, "settings")
	r.w.Open("cache")
	if exit, err := r.c.Idle(1); exit || err != nil {
		t.Fatalf("Idle(1) with a request after it = %v, %v; want false", exit, err)
	}
	want(t, ch, 2, "cache")
	if exit, err := r.c.Idle(2); !exit || err != nil {
		t.Fatalf("Idle(2) = %v, %v; want true", exit, err)
	}
	if rest := waitClosed(t, ch); len(rest) > 0 {
		t.Errorf("requests after exit was agreed: %v", rest)
	}
	r.w.Open("about")
	if n := r.sp.count(); n != 2 {
		t.Fatalf("%d processes spawned, want 2", n)
	}
	ch = r.attach(t)
	want(t, ch, 3, "about")
}

// TestWindowsIdleBeforeDelivery: with a request still pending, even the
// seq of the last request delivered does not let the process exit.
func TestWindowsIdleBeforeDelivery(t *testing.T) {
	r := newWindowsRig(t, "sleep", "30")
	r.w.Open("settings")
	if exit, err := r.c.Idle(0); exit || err != nil {
		t.Fatalf("Idle(0) with a request pending = %v, %v; want false", exit, err)
	}
	if exit, err := r.c.Idle(1); exit || err != nil {
		t.Fatalf("Idle(1) before request 1 was handed over = %v, %v; want false", exit, err)
	}
	ch := r.attach(t)
	want(t, ch, 1, "settings")
}

// TestWindowsReplace: a second attach takes over: the first stream ends
// and new requests go to the second.
func TestWindowsReplace(t *testing.T) {
	r := newWindowsRig(t, "sleep", "30")
	r.w.Open("settings")
	first := r.attach(t)
	want(t, first, 1, "settings")
	second := r.attach(t)
	waitClosed(t, first)
	r.w.Open("cache")
	want(t, second, 2, "cache")
}

// TestWindowsChildDiesBeforeAttach: when the process exits without
// attaching, its requests are dropped with a log line, the state clears
// (an attach is refused) and nothing is respawned until the next Open.
func TestWindowsChildDiesBeforeAttach(t *testing.T) {
	r := newWindowsRig(t, "true")
	r.w.Open("settings")
	testutil.Eventually(t, "the state to clear", r.w.noProcess)
	if n := r.sp.count(); n != 1 {
		t.Errorf("%d processes spawned, want 1", n)
	}
	// The line is written just after the state clears.
	testutil.Eventually(t, "the log to tell of the dropped request", func() bool {
		log := r.log.String()
		return strings.Contains(log, "dropped") && strings.Contains(log, "settings")
	})
	if _, err := r.c.Windows(t.Context()); err == nil || !strings.Contains(err.Error(), "no window process") {
		t.Errorf("attach with no process: %v", err)
	}
	r.w.Open("cache")
	if n := r.sp.count(); n != 2 {
		t.Errorf("%d processes spawned after the next Open, want 2", n)
	}
}

// TestWindowsSpawnFails: a failed spawn is logged once and its request
// dropped; the next Open tries again.
func TestWindowsSpawnFails(t *testing.T) {
	r := newWindowsRig(t, "sleep", "30")
	r.sp.fail = errors.New("no such executable")
	r.w.Open("settings")
	if !r.w.noProcess() {
		t.Error("a failed spawn left a process generation")
	}
	log := r.log.String()
	if strings.Count(log, "\n") != 1 || !strings.Contains(log, "no such executable") || !strings.Contains(log, "settings") {
		t.Errorf("want one log line with the error and the window, got:\n%s", log)
	}
	r.sp.mu.Lock()
	r.sp.fail = nil
	r.sp.mu.Unlock()
	r.w.Open("cache")
	ch := r.attach(t)
	want(t, ch, 2, "cache")
}

// TestWindowsClose: Close kills the running process and waits for it, and
// Open spawns nothing afterwards.
func TestWindowsClose(t *testing.T) {
	r := newWindowsRig(t, "sleep", "30")
	r.w.Open("settings")
	ch := r.attach(t)
	want(t, ch, 1, "settings")
	r.w.Close()
	cmd := r.sp.cmds[0]
	if cmd.ProcessState == nil || cmd.ProcessState.Success() {
		t.Errorf("the process was not killed: %v", cmd.ProcessState)
	}
	waitClosed(t, ch)
	r.w.Open("cache")
	if n := r.sp.count(); n != 1 {
		t.Errorf("%d processes spawned, want 1", n)
	}
	if !slices.ContainsFunc(strings.Split(r.log.String(), "\n"), func(l string) bool { return strings.Contains(l, "cache") }) {
		t.Error("the request after Close was dropped silently")
	}
}
