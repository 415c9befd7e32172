package s3server

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server's S3 endpoint
// that paces the bytes its clients send (request bodies: uploads) to a
// rate shared by all its connections; what the server answers passes
// unpaced. A test points the code under test at the proxy to hold an
// upload in progress for long enough to look at it, or to kill its
// process in the middle, while the test's own client (Client) goes to the
// server directly.
type Proxy struct {
	// Endpoint is the proxy's URL, http://127.0.0.1:PORT, for a store URL
	// in place of the server's.
	Endpoint string

	target string // the server's host:port
	ln     net.Listener
	pace   *pacer
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// Proxy starts a proxy in front of s that passes bytesPerSecond of what
// its clients send, in all, and stops it at tb's cleanup.
func (s *Server) Proxy(tb testing.TB, bytesPerSecond int64) *Proxy {
	tb.Helper()
	if bytesPerSecond <= 0 {
		tb.Fatalf("s3server: a proxy's rate must be positive, not %d bytes/s", bytesPerSecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("s3server: listen for the proxy: %v", err)
	}
	p := &Proxy{
		Endpoint: "http://" + ln.Addr().String(),
		target:   s.Endpoint[len("http://"):],
		ln:       ln,
		pace:     &pacer{rate: float64(bytesPerSecond), sleep: time.Sleep, now: time.Now},
		conns:    map[net.Conn]struct{}{},
	}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// URL is the store URL of bucket and prefix through the proxy, as
// Server.URL is directly.
func (p *Proxy) URL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s&path_style=true", bucket, prefix, p.Endpoint, Region)
}

// Close stops the proxy and cuts its connections. It may be called more
// than once.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// accept serves the proxy's connections until its listener is closed.
func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track adds c to the connections Close cuts, or closes it at once when
// the proxy is closed; it reports whether c was added.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// forget removes c from the connections Close cuts and closes it.
func (p *Proxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// serve joins client to a new connection to the server: the client's
// bytes paced, the server's as they come. Either side closing ends both.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.forget(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		return
	}
	defer p.forget(server)
	done := make(chan struct{}, 2)
	go func() {
		p.copyPaced(server, client)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, server)
		done <- struct{}{}
	}()
	<-done
	// One direction ended: closing both connections (the deferred
	// forgets) ends the other; wait for it before they are closed twice.
	client.Close()
	server.Close()
	<-done
}

// copyPaced copies src to dst in pieces, each sent when the pacer allows.
func (p *Proxy) copyPaced(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.pace.wait(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pacer spreads bytes over time at rate bytes per second, across all the
// goroutines that wait on it: each piece is given the next free slot.
type pacer struct {
	rate  float64
	sleep func(time.Duration) // time.Sleep; tests record instead
	now   func() time.Time

	mu   sync.Mutex
	next time.Time // when the next piece may go
}

// wait returns when n more bytes may be sent.
func (p *pacer) wait(n int) {
	p.mu.Lock()
	now := p.now()
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	at := p.next
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		p.sleep(d)
	}
}
