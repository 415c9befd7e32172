package uiremote

import (
	"errors"
	"log/slog"
	"os/exec"
	"sync"
	"time"
)

// closeWait bounds how long Close waits for window processes to exit
// after killing them.
const closeWait = 2 * time.Second

// errNoWindowProcess is why an attach is refused: the parent started no
// window process, so nobody should be asking for its requests.
var errNoWindowProcess = errors.New("no window process was started: the hubmirror app starts it when a window is asked for")

// WindowRequest asks the window process to show a window.
type WindowRequest struct {
	// Seq numbers the requests in the order they were made, from 1; the
	// window process hands the last one it handled to Idle.
	Seq int `json:"seq"`
	// Name says which window: "settings", "cache", "setup", "about",
	// "log", "main", "copy-docker", …; uiremote does not interpret it.
	Name string `json:"name"`
}

// Windows routes the parent's window requests to the window process,
// starting one when none is attached.
//
// A process generation begins when Open finds no process and spawns one;
// its requests wait until it attaches (opens its Windows stream). A second
// attach replaces the first, whose stream ends: a window process that
// lost its stream can come back without waiting for the parent to notice.
// The generation ends when the process exits or when Idle lets it exit;
// the next Open then spawns anew. Requests of a process that exits without
// having taken them are dropped with a log line, never retried, so a
// window process that cannot start does not start over and over.
type Windows struct {
	spawn func() (*exec.Cmd, error)
	log   *slog.Logger

	mu     sync.Mutex
	seq    int                      // the last Seq given out
	gen    *generation              // the current generation; nil when none
	procs  map[*generation]struct{} // every generation whose process may still run
	closed bool                     // Close was called: Open spawns no more
}

// generation is one window process and the requests meant for it. Its
// fields are guarded by Windows.mu.
type generation struct {
	cmd      *exec.Cmd // nil while spawn runs
	pending  []WindowRequest
	sent     int         // the Seq of the last request handed to the stream
	att      *attachment // the attached stream, nil when none
	attached bool        // the process attached at some time
	killed   bool        // Close killed it (or will, once spawn returns)
	exited   chan struct{}
}

// attachment is one Windows stream of a generation's process.
type attachment struct {
	gen   *generation
	wake  chan struct{} // a new request is pending; capacity 1
	done  chan struct{} // closed when the stream must end
	ended bool          // done is closed; guarded by Windows.mu
}

// NewWindows returns a Windows that starts window processes with spawn,
// which must return an already started command; spawn is called at most
// once per process generation, and Windows waits for the command. log
// receives a line when a process cannot start or exits with requests
// undelivered; nil discards.
func NewWindows(spawn func() (*exec.Cmd, error), log *slog.Logger) *Windows {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Windows{spawn: spawn, log: log, procs: map[*generation]struct{}{}}
}

// Open asks the window process to show name: the request is queued and
// delivered on its stream, and a process is started when there is none
// (or the last one agreed to exit). It never waits on the network; it
// returns once a needed process is started. After Close it does nothing.
func (w *Windows) Open(name string) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.log.Warn("window request after shutdown dropped", "window", name)
		return
	}
	w.seq++
	g := w.gen
	fresh := g == nil
	if fresh {
		g = &generation{exited: make(chan struct{})}
		w.gen = g
		w.procs[g] = struct{}{}
	}
	g.pending = append(g.pending, WindowRequest{Seq: w.seq, Name: name})
	if g.att != nil {
		g.att.poke()
	}
	w.mu.Unlock()
	if fresh {
		w.start(g)
	}
}

// start spawns g's process, outside the lock so that Opens meanwhile
// queue up on g instead of spawning again, then waits for it in a
// goroutine. When spawn fails, g's requests are dropped.
func (w *Windows) start(g *generation) {
	cmd, err := w.spawn()
	if err == nil && (cmd == nil || cmd.Process == nil) {
		err = errors.New("spawn returned a command that was not started")
	}
	w.mu.Lock()
	if err != nil {
		dropped := g.pending
		w.endLocked(g)
		delete(w.procs, g)
		w.mu.Unlock()
		close(g.exited)
		w.log.Error("cannot start the window process; window requests dropped", "windows", names(dropped), "err", err)
		return
	}
	g.cmd = cmd
	kill := g.killed
	w.mu.Unlock()
	if kill {
		_ = cmd.Process.Kill()
	}
	go w.wait(g)
}

// wait waits for g's process to exit and clears the state it leaves:
// the next Open starts a new process.
func (w *Windows) wait(g *generation) {
	err := g.cmd.Wait()
	w.mu.Lock()
	dropped := g.pending
	g.pending = nil
	attached, killed := g.attached, g.killed
	w.endLocked(g)
	delete(w.procs, g)
	w.mu.Unlock()
	close(g.exited)
	switch {
	case len(dropped) > 0:
		w.log.Warn("the window process exited before taking its window requests; dropped",
			"windows", names(dropped), "attached", attached, "err", err)
	case err != nil && !killed:
		w.log.Warn("the window process failed", "err", err)
	}
}

// endLocked ends g as the current generation, if it is, and its stream.
// w.mu is held.
func (w *Windows) endLocked(g *generation) {
	if w.gen == g {
		w.gen = nil
	}
	if g.att != nil {
		g.att.endLocked()
		g.att = nil
	}
}

// Close kills the window processes, if any, and waits for them to exit,
// at most two seconds. Open does nothing afterwards: Close is for the
// app's shutdown, which a late tray click must not undo.
func (w *Windows) Close() {
	w.mu.Lock()
	w.closed = true
	var gens []*generation
	for g := range w.procs {
		g.killed = true
		if g.cmd != nil {
			_ = g.cmd.Process.Kill()
		}
		w.endLocked(g)
		gens = append(gens, g)
	}
	w.mu.Unlock()
	deadline := time.NewTimer(closeWait)
	defer deadline.Stop()
	for _, g := range gens {
		select {
		case <-g.exited:
		case <-deadline.C:
			w.log.Warn("the window process did not exit in time after being killed")
			return
		}
	}
}

// attach makes a new stream the current generation's, ending the one it
// had. It fails when no process was started.
func (w *Windows) attach() (*attachment, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.gen
	if g == nil {
		return nil, errNoWindowProcess
	}
	if g.att != nil {
		g.att.endLocked()
	}
	a := &attachment{gen: g, wake: make(chan struct{}, 1), done: make(chan struct{})}
	g.att = a
	g.attached = true
	return a, nil
}

// detach forgets a, whose stream ended.
func (w *Windows) detach(a *attachment) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a.gen.att == a {
		a.gen.att = nil
	}
	a.endLocked()
}

// take hands a's stream the pending requests, recording the last as sent;
// ok is false when the stream must end.
func (w *Windows) take(a *attachment) (batch []WindowRequest, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a.ended {
		return nil, false
	}
	batch, a.gen.pending = a.gen.pending, nil
	if len(batch) > 0 {
		a.gen.sent = batch[len(batch)-1].Seq
	}
	return batch, true
}

// requeue puts back, first in line, the requests a's stream failed to
// send, for a stream that replaces it; the generation's sent stays where
// it was, so Idle keeps answering false until they are handed again.
func (w *Windows) requeue(a *attachment, rest []WindowRequest) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gen != a.gen {
		return // the process is gone or retired; wait (or Idle) accounted for it
	}
	a.gen.pending = append(append([]WindowRequest(nil), rest...), a.gen.pending...)
}

// idle reports whether the window process may exit, having handled the
// requests up to seq: only when seq is the last request handed to it and
// none is pending. Then its generation ends, so that the next Open starts
// a new process, and its stream ends. With no current generation the
// caller is a process the parent no longer counts on, so it may exit.
func (w *Windows) idle(seq int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.gen
	if g == nil {
		return true
	}
	if seq != g.sent || len(g.pending) > 0 {
		return false
	}
	w.endLocked(g)
	return true
}

// poke tells a's stream that a request is pending, without waiting.
func (a *attachment) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// endLocked ends a's stream. Windows.mu is held.
func (a *attachment) endLocked() {
	if !a.ended {
		a.ended = true
		close(a.done)
	}
}

// names lists the windows of reqs, for a log line.
func names(reqs []WindowRequest) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Name
	}
	return out
}
