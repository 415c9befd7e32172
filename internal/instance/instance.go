// Package instance keeps the desktop app to one instance per user. The
// first instance claims a per-user name and listens on a local channel
// (a unix socket, or a loopback port on Windows); a later one finds it
// there, asks it to show its window and is told to exit.
//
// The protocol is one line each way: the later instance sends "show"
// (on Windows preceded by the token the first one wrote to a file only
// this user can read), the first answers "ok" and runs its callback.
package instance

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrRunning is returned by Claim when another instance holds the name;
// it was asked to show its window.
var ErrRunning = errors.New("already running")

// exchangeTimeout bounds one exchange, both sides: a later instance exits
// within about a second even when the first one hangs.
const exchangeTimeout = time.Second

// Instance is the claim of the first instance. Close releases it.
type Instance struct {
	ln      net.Listener
	token   string // "" on unix, where the socket's directory is private
	show    func()
	release func() // drops the lock after the listener is closed
	done    chan struct{}
	once    sync.Once
}

// Claim makes this process the instance named name (an app ID, e.g.
// "io.github.hubmirror") for this user. When another process holds the
// name, Claim asks it to show its window and returns ErrRunning itself, or
// an error wrapping ErrRunning when that one could not be reached. Otherwise
// show is called, on a goroutine of its own, each time a later instance
// asks.
func Claim(name string, show func()) (*Instance, error) {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("instance name %q: want an app ID without slashes", name)
	}
	return claim(name, show)
}

// Close stops answering later instances and releases the name.
func (in *Instance) Close() error {
	var err error
	in.once.Do(func() {
		err = in.ln.Close()
		<-in.done
		in.release()
	})
	return err
}

// start serves the listener until Close.
func (in *Instance) start() *Instance {
	in.done = make(chan struct{})
	go func() {
		defer close(in.done)
		for {
			c, err := in.ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			in.answer(c)
		}
	}()
	return in
}

// answer reads one request and runs the callback for "show".
func (in *Instance) answer(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(exchangeTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	want := "show"
	if in.token != "" {
		want = in.token + " show"
	}
	if strings.TrimSpace(line) != want {
		_, _ = c.Write([]byte("unknown\n"))
		return
	}
	go in.show()
	_, _ = c.Write([]byte("ok\n"))
}

// ask sends "show" over c and waits for "ok".
func ask(c net.Conn, token string) error {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(exchangeTimeout))
	req := "show\n"
	if token != "" {
		req = token + " show\n"
	}
	if _, err := c.Write([]byte(req)); err != nil {
		return fmt.Errorf("ask the running instance: %w", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("ask the running instance: %w", err)
	}
	if strings.TrimSpace(line) != "ok" {
		return fmt.Errorf("ask the running instance: it answered %q", strings.TrimSpace(line))
	}
	return nil
}

// retry calls try until it succeeds or exchangeTimeout passes: the first
// instance may hold the name but not listen yet.
func retry(try func() error) error {
	deadline := time.Now().Add(exchangeTimeout)
	for {
		err := try()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// baseDir is the per-user directory the name's files go in: the user's
// cache directory, made private.
func baseDir(parent, name string) (string, error) {
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("instance: %w", err)
	}
	return dir, nil
}
