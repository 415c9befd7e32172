// Package instance keeps the desktop app to one instance per user. The
// first instance claims a per-user name and listens on a local channel
// (a unix socket, or a loopback port on Windows); a later one finds it
// there, asks it to show its window and is told to exit.
//
// The protocol is one line each way: the later instance sends "show"
// (on Windows preceded by the token the first one wrote to a file only
// this user can read), the first answers "ok" and runs its callback. A
// connection whose line is "http" instead is handed to the HTTP handler
// given to Serve: the desktop app's window process reaches the mirror's
// process that way (Dial).
package instance

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
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

	mu    sync.Mutex
	conns *connListener // set by Serve; nil: "http" is refused
	srv   *http.Server
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
		in.mu.Lock()
		srv := in.srv
		in.mu.Unlock()
		if srv != nil {
			srv.Close()
		}
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

// answer reads one request and runs the callback for "show", or hands
// the connection to Serve's handler for "http".
func (in *Instance) answer(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(exchangeTimeout))
	line, err := readLine(c)
	if err != nil {
		c.Close()
		return
	}
	prefix := ""
	if in.token != "" {
		prefix = in.token + " "
	}
	switch strings.TrimSpace(line) {
	case prefix + "show":
		go in.show()
		_, _ = c.Write([]byte("ok\n"))
	case prefix + "http":
		in.mu.Lock()
		conns := in.conns
		in.mu.Unlock()
		if conns != nil {
			_ = c.SetDeadline(time.Time{})
			conns.hand(c)
			return
		}
		_, _ = c.Write([]byte("unknown\n"))
	default:
		_, _ = c.Write([]byte("unknown\n"))
	}
	c.Close()
}

// readLine reads up to a newline one byte at a time, so that nothing
// after it (an HTTP request) is taken from the connection. Lines longer
// than 256 bytes are refused.
func readLine(c net.Conn) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 256 {
		if _, err := c.Read(b); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			return string(line), nil
		}
		line = append(line, b[0])
	}
	return "", errors.New("request line too long")
}

// Serve answers "http" connections with h until Close. Call it once,
// after Claim.
func (in *Instance) Serve(h http.Handler) {
	l := &connListener{conns: make(chan net.Conn), closed: make(chan struct{}), addr: in.ln.Addr()}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	in.mu.Lock()
	in.conns, in.srv = l, srv
	in.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Dial connects to the running instance named name as an HTTP client: the
// connection it returns speaks HTTP/1.1 to the handler given to Serve.
func Dial(name string) (net.Conn, error) {
	c, token, err := dial(name)
	if err != nil {
		return nil, err
	}
	req := "http\n"
	if token != "" {
		req = token + " http\n"
	}
	_ = c.SetWriteDeadline(time.Now().Add(exchangeTimeout))
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, fmt.Errorf("reach the running instance: %w", err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// connListener is a net.Listener of the connections answer hands over.
type connListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

// hand gives c to the HTTP server, or closes it once the server is gone.
func (l *connListener) hand(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

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
