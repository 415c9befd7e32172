package mirror

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// leafOf returns the server certificate a TLS config hands out.
func leafOf(t *testing.T, cfg *tls.Config) *x509.Certificate {
	t.Helper()
	c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// The local CA is made once and kept across restarts; the server
// certificate names the listen address and the aliases, verifies against
// the CA, is kept while the names stay and remade when they change; every
// file is mode 0600.
func TestLocalCAAndServerCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	auto := TLS{Mode: TLSAuto, Dir: dir}
	aliases := map[string]string{"ghcr.mirror.lan": "ghcr.io"}
	cfg, caPEM, err := serverTLS(auto, "192.0.2.10:5000", aliases)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA is not PEM: %q", caPEM)
	}
	leaf := leafOf(t, cfg)
	for _, name := range []string{"192.0.2.10", "ghcr.mirror.lan", "host.docker.internal"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "192.0.2.11", Roots: pool}); err == nil {
		t.Error("certificate also verifies for 192.0.2.11")
	}
	for _, f := range []string{CACertFile, caKeyFile, serverCertFile, serverKeyFile} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, info.Mode(), err)
		}
	}

	// A restart with the same names keeps the CA and the certificate.
	cfg2, caPEM2, err := serverTLS(auto, "192.0.2.10:5000", aliases)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caPEM, caPEM2) {
		t.Error("a restart made a new CA")
	}
	if leafOf(t, cfg2).SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Error("a restart with the same names made a new server certificate")
	}

	// New names: a new server certificate from the same CA.
	cfg3, caPEM3, err := serverTLS(auto, "192.0.2.10:5000", map[string]string{"quay.mirror.lan": "quay.io"})
	if err != nil {
		t.Fatal(err)
	}
	leaf3 := leafOf(t, cfg3)
	if !bytes.Equal(caPEM, caPEM3) || leaf3.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Fatal("new names: want the same CA and a new certificate")
	}
	if _, err := leaf3.Verify(x509.VerifyOptions{DNSName: "quay.mirror.lan", Roots: pool}); err != nil {
		t.Errorf("new alias: %v", err)
	}
	if got, err := EnsureCA(dir); err != nil || !bytes.Equal(got, caPEM) {
		t.Errorf("EnsureCA returned another CA: %v", err)
	}
}

// A certificate that nears expiry is renewed, also while the mirror runs.
func TestServerCertificateRenewsBeforeExpiry(t *testing.T) {
	dir := t.TempDir()
	ca, err := loadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	src := &certSource{ca: ca, dir: dir, names: []string{"localhost"}, ips: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, now: func() time.Time { return now }}
	first, err := src.get(nil)
	if err != nil {
		t.Fatal(err)
	}
	serial, notAfter := first.Leaf.SerialNumber, first.Leaf.NotAfter
	if again, _ := src.get(nil); again.Leaf.SerialNumber.Cmp(serial) != 0 {
		t.Fatal("a fresh certificate was replaced")
	}
	now = notAfter.Add(-renewBefore + time.Hour)
	renewed, err := src.get(nil)
	if err != nil || renewed.Leaf.SerialNumber.Cmp(serial) == 0 || !renewed.Leaf.NotAfter.After(notAfter) {
		t.Fatalf("near expiry: %v, serial %v (was %v)", err, renewed.Leaf.SerialNumber, serial)
	}
}

// Listening on every interface covers the host name, the interfaces'
// addresses and loopback; a specific address covers that address.
func TestCertificateNames(t *testing.T) {
	host, _ := os.Hostname()
	names, ips := certNames("0.0.0.0:5000", nil)
	for _, want := range []string{strings.ToLower(host), "localhost", "host.docker.internal"} {
		if !slices.Contains(names, want) {
			t.Errorf("0.0.0.0: names %v lack %s", names, want)
		}
	}
	addrs, _ := net.InterfaceAddrs()
	want := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLinkLocalUnicast() {
			want = append(want, n.IP)
		}
	}
	for _, ip := range want {
		if !slices.ContainsFunc(ips, ip.Equal) {
			t.Errorf("0.0.0.0: addresses %v lack %s", ips, ip)
		}
	}
	if names6, ips6 := certNames("[::]:5000", nil); !slices.Equal(names6, names) || len(ips6) != len(ips) {
		t.Errorf("[::] gives %v %v, 0.0.0.0 %v %v", names6, ips6, names, ips)
	}
	names, ips = certNames("mirror.lan:5000", map[string]string{"GHCR.mirror.lan": "ghcr.io"})
	if !slices.Equal(names, []string{"mirror.lan", "ghcr.mirror.lan", "host.docker.internal"}) || len(ips) != 0 {
		t.Errorf("mirror.lan: %v %v", names, ips)
	}
}

// A ca.crt without its key, or files that are not a CA, stop the start
// with a message naming the files.
func TestBrokenLocalCA(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CACertFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := serverTLS(TLS{Mode: TLSAuto, Dir: dir}, "127.0.0.1:5000", nil)
	if err == nil || !strings.Contains(err.Error(), "ca.key") {
		t.Errorf("ca.crt alone: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, caKeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := serverTLS(TLS{Mode: TLSAuto, Dir: dir}, "127.0.0.1:5000", nil); err == nil || !strings.Contains(err.Error(), "move ca.crt and ca.key away") {
		t.Errorf("junk CA: %v", err)
	}
	if _, _, err := serverTLS(TLS{Mode: TLSFiles, CertFile: filepath.Join(dir, "no.crt"), KeyFile: filepath.Join(dir, "no.key")}, "127.0.0.1:5000", nil); err == nil || !strings.Contains(err.Error(), "no.crt") {
		t.Errorf("missing cert files: %v", err)
	}
}

// The login decision depends on the remote address: loopback may log in
// over plain HTTP, another machine only over TLS or with insecure_login.
func TestPlainLoginFromAnotherMachine(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tc := range []struct {
		name, remote string
		overTLS      bool
		tlsOn, insec bool
		creds        bool
		status       int
		messageHolds string
	}{
		{"loopback v4", "127.0.0.1:40000", false, false, false, true, http.StatusTeapot, ""},
		{"loopback v6", "[::1]:40000", false, false, false, true, http.StatusTeapot, ""},
		{"loopback 127.8.9.10", "127.8.9.10:40000", false, false, false, true, http.StatusTeapot, ""},
		{"lan, tls off", "192.168.1.5:40000", false, false, false, true, http.StatusForbidden, "--tls auto"},
		{"lan v6, tls off", "[fd00::5]:40000", false, false, false, true, http.StatusForbidden, "insecure_login"},
		{"lan, plain, tls on", "192.168.1.5:40000", false, true, false, true, http.StatusForbidden, "https://mirror.lan:5000"},
		{"lan over tls", "192.168.1.5:40000", true, true, false, true, http.StatusTeapot, ""},
		{"lan, insecure_login", "192.168.1.5:40000", false, false, true, true, http.StatusTeapot, ""},
		{"lan, anonymous token", "192.168.1.5:40000", false, false, false, false, http.StatusTeapot, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTransportGuard(next, nil, tc.tlsOn, tc.insec, slog.New(slog.DiscardHandler))
			r := httptest.NewRequest(http.MethodGet, "http://mirror.lan:5000/v2/auth?service=hubmirror", nil)
			r.RemoteAddr = tc.remote
			if tc.overTLS {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.creds {
				r.SetBasicAuth("alice", "pw")
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status != http.StatusForbidden {
				return
			}
			var body struct{ Errors []ociError }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != codeDenied ||
				!strings.Contains(body.Errors[0].Message, tc.messageHolds) || strings.Contains(w.Body.String(), "pw") {
				t.Errorf("body %s (%v), want DENIED saying %q", w.Body, err, tc.messageHolds)
			}
		})
	}
}

// A real docker-style login from 127.0.0.1 over plain HTTP works as it
// always did.
func TestLoopbackLoginStillWorks(t *testing.T) {
	hub := newHub(t)
	hub.AddUser("alice", "alice-pw")
	tm := startAuthMirror(t, hub)
	if status, tok := tm.login(t, "alice", "alice-pw", "library/alpine"); status != http.StatusOK || tok == "" {
		t.Fatalf("login from 127.0.0.1: %d", status)
	}
}

// With tls auto, one port serves HTTPS with a certificate the CA verifies,
// plain HTTP for this machine's tools, and the CA at /ca.crt.
func TestMirrorServesTLSAndPlainOnOnePort(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "3.20", []byte("layer one"))
	conf := t.TempDir()
	tm := startMirrorCfg(t, hub, func(c *Config) { c.TLS = TLS{Mode: TLSAuto, Dir: conf} })
	caPEM, err := os.ReadFile(filepath.Join(conf, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	_, port, _ := net.SplitHostPort(tm.Addr())
	for _, host := range []string{"127.0.0.1", "localhost"} {
		resp, err := client.Get("https://" + net.JoinHostPort(host, port) + "/v2/library/alpine/manifests/3.20")
		if err != nil {
			t.Fatalf("https via %s: %v", host, err)
		}
		body, _ := readAll(resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != img.Digest || len(body) == 0 {
			t.Errorf("https via %s: %d %s", host, resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
		}
	}
	if r := tm.get(t, "/v2/"); r.status != http.StatusOK {
		t.Errorf("plain http: %d", r.status)
	}
	if r := tm.get(t, "/ca.crt"); r.status != http.StatusOK || !bytes.Equal(r.body, caPEM) {
		t.Errorf("/ca.crt: %d %q", r.status, r.body)
	}
}
