package mirror

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// sniffTimeout is how long a new connection has to send its first byte.
const sniffTimeout = 30 * time.Second

// mixedListener serves TLS and plain HTTP on one port: a connection whose
// first byte opens a TLS handshake (a record of type 22) is served as TLS,
// any other as plain HTTP. Each new connection is looked at in its own
// goroutine, so a slow client holds up nobody else.
type mixedListener struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	sniffing map[net.Conn]struct{}
}

func newMixedListener(ln net.Listener, cfg *tls.Config) *mixedListener {
	l := &mixedListener{
		Listener: ln, cfg: cfg, conns: make(chan net.Conn), errs: make(chan error),
		done: make(chan struct{}), sniffing: map[net.Conn]struct{}{},
	}
	go l.acceptLoop()
	return l
}

func (l *mixedListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.mu.Lock()
		l.sniffing[c] = struct{}{}
		l.mu.Unlock()
		go l.sniff(c)
	}
}

// sniff reads the first byte of c and hands c on as TLS or plain.
func (l *mixedListener) sniff(c net.Conn) {
	var first [1]byte
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	_, err := io.ReadFull(c, first[:])
	_ = c.SetReadDeadline(time.Time{})
	l.mu.Lock()
	delete(l.sniffing, c)
	l.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	var conn net.Conn = &prefixConn{Conn: c, first: first[:]}
	if first[0] == 0x16 {
		conn = tls.Server(conn, l.cfg)
	}
	select {
	case l.conns <- conn:
	case <-l.done:
		conn.Close()
	}
}

// Accept returns the next connection, TLS or plain.
func (l *mixedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes connections not yet handed on.
func (l *mixedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	err := l.Listener.Close()
	l.mu.Lock()
	for c := range l.sniffing {
		c.Close()
	}
	l.mu.Unlock()
	return err
}

// prefixConn is a connection whose first bytes were already read.
type prefixConn struct {
	net.Conn
	first []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.first) > 0 {
		n := copy(p, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom keeps the kernel's sendfile for plain HTTP: net/http uses it to
// send cached blobs when the connection is a *net.TCPConn.
func (c *prefixConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// transportGuard handles what depends on how a request reached the mirror
// before the registry API sees it: it serves the local CA's certificate at
// /ca.crt, and it refuses logins that would send a password across the
// network in clear.
type transportGuard struct {
	next          http.Handler
	caPEM         []byte // the local CA (tls auto); nil when there is none
	tlsOn         bool
	insecureLogin bool
	log           *slog.Logger
	info          transportInfo
}

// transportInfo is how the listener serves, for the pages that tell
// clients how to connect; requests carry it in their context.
type transportInfo struct {
	tlsOn         bool
	caFingerprint string // of the local CA; "" when there is none
}

type transportKey struct{}

// transportOf returns how the listener that took r serves.
func transportOf(r *http.Request) transportInfo {
	info, _ := r.Context().Value(transportKey{}).(transportInfo)
	return info
}

func newTransportGuard(next http.Handler, caPEM []byte, tlsOn, insecureLogin bool, log *slog.Logger) *transportGuard {
	g := &transportGuard{next: next, caPEM: caPEM, tlsOn: tlsOn, insecureLogin: insecureLogin, log: log}
	g.info.tlsOn = tlsOn
	if caPEM != nil {
		g.info.caFingerprint, _ = Fingerprint(caPEM)
	}
	return g
}

func (g *transportGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/ca.crt" && g.caPEM != nil:
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Content-Disposition", `attachment; filename="hubmirror-ca.crt"`)
		_, _ = w.Write(g.caPEM)
		return
	case r.URL.Path == "/v2/auth" && r.TLS == nil && carriesCredentials(r) && !g.insecureLogin && !fromLoopback(r.RemoteAddr):
		g.log.Warn("login refused: plain HTTP from another machine", "client", r.RemoteAddr)
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		newError(codeDenied, plainLoginMessage(g.tlsOn, g.caPEM != nil, r.Host)).write(w)
		return
	}
	g.next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), transportKey{}, g.info)))
}

// carriesCredentials reports whether a token request sends a password:
// HTTP Basic (docker login) or an OAuth2 form POST (containerd).
func carriesCredentials(r *http.Request) bool {
	_, _, basic := r.BasicAuth()
	return basic || r.Method == http.MethodPost
}

// fromLoopback reports whether a request's remote address (host:port) is
// on this machine, where plain HTTP never crosses a network.
func fromLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainLoginMessage says why a login over plain HTTP was refused and what
// to do instead.
func plainLoginMessage(tlsOn, hasCA bool, host string) string {
	if tlsOn {
		msg := "log in over HTTPS (https://" + host + "): this mirror serves TLS on the same port, and refuses " +
			"passwords over plain HTTP from other machines"
		if hasCA {
			msg += "; trust its CA first (http://" + host + "/ca.crt, or hubmirror setup ca)"
		}
		return msg
	}
	return "this mirror refuses logins over plain HTTP from other machines: the password would cross the network in clear. " +
		"Turn TLS on (hubmirror serve --tls auto, or \"tls\": \"auto\" in settings.json) and trust its CA (hubmirror setup ca); " +
		"or, on a network you trust, set \"insecure_login\": true (--insecure-login)"
}
