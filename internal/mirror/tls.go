package mirror

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// TLSMode is how the mirror serves HTTPS.
type TLSMode string

// The TLS modes: plain HTTP, a local CA that hubmirror keeps, or the
// user's own certificate and key files.
const (
	TLSOff   TLSMode = ""
	TLSAuto  TLSMode = "auto"
	TLSFiles TLSMode = "files"
)

// TLS says how the mirror serves HTTPS. The zero value serves plain HTTP.
// With TLS on, the listener still answers plain HTTP on the same port, so
// tools on this machine that use http://127.0.0.1 keep working; logins
// over plain HTTP from other machines are refused (see Config.InsecureLogin).
type TLS struct {
	Mode TLSMode
	// Dir, with TLSAuto, holds ca.crt and ca.key (the local CA, made once)
	// and server.crt and server.key (remade when the names change or the
	// certificate nears expiry), all mode 0600.
	Dir string
	// CertFile and KeyFile, with TLSFiles, are PEM files of the server
	// certificate (chain) and its key.
	CertFile, KeyFile string
}

// The files of TLSAuto in TLS.Dir.
const (
	CACertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
)

const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 397 * 24 * time.Hour // what browsers accept at most
	renewBefore    = 30 * 24 * time.Hour
)

// localCA is the CA of TLSAuto.
type localCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// EnsureCA returns the PEM certificate of the local CA in dir, creating the
// CA (ca.crt and ca.key, mode 0600) when there is none.
func EnsureCA(dir string) ([]byte, error) {
	ca, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	return ca.pem, nil
}

// Fingerprint returns the SHA-256 fingerprint of the first certificate in
// a PEM block, as openssl prints it (AB:CD:…).
func Fingerprint(certPEM []byte) (string, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate")
	}
	sum := sha256.Sum256(b.Bytes)
	parts := make([]string, len(sum))
	for i, c := range sum {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":"), nil
}

func loadOrCreateCA(dir string) (*localCA, error) {
	certPEM, certErr := os.ReadFile(filepath.Join(dir, CACertFile))
	keyPEM, keyErr := os.ReadFile(filepath.Join(dir, caKeyFile))
	if certErr == nil && keyErr == nil {
		cert, key, err := parsePair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("local CA in %s: %w (move %s and %s away to make a new CA; clients must then trust the new one)",
				dir, err, CACertFile, caKeyFile)
		}
		return &localCA{cert: cert, key: key, pem: certPEM}, nil
	}
	if !errors.Is(certErr, fs.ErrNotExist) || !errors.Is(keyErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("local CA in %s: need both %s and %s: %w", dir, CACertFile, caKeyFile, errors.Join(certErr, keyErr))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make CA key: %w", err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "hubmirror local CA " + host, Organization: []string{"hubmirror"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make CA certificate: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: a ca.crt without its key would be useless.
	if err := writePrivate(dir, caKeyFile, keyPEMOf(key)); err != nil {
		return nil, err
	}
	if err := writePrivate(dir, CACertFile, certPEM); err != nil {
		return nil, err
	}
	return &localCA{cert: cert, key: key, pem: certPEM}, nil
}

// serverCert returns the server certificate in dir for names and ips,
// signed by ca: the stored one while it has the same names, is signed by
// ca and has more than renewBefore left; a new one otherwise.
func (ca *localCA) serverCert(dir string, names []string, ips []net.IP, now time.Time) (tls.Certificate, error) {
	certPEM, err1 := os.ReadFile(filepath.Join(dir, serverCertFile))
	keyPEM, err2 := os.ReadFile(filepath.Join(dir, serverKeyFile))
	if err1 == nil && err2 == nil {
		if cert, key, err := parsePair(certPEM, keyPEM); err == nil &&
			cert.CheckSignatureFrom(ca.cert) == nil && sameNames(cert, names, ips) && now.Add(renewBefore).Before(cert.NotAfter) {
			return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make server key: %w", err)
	}
	cn := "hubmirror"
	if len(names) > 0 {
		cn = names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"hubmirror"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("make server certificate: %w", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	if err := writePrivate(dir, serverKeyFile, keyPEMOf(key)); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePrivate(dir, serverCertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// sameNames reports whether cert names exactly names and ips.
func sameNames(cert *x509.Certificate, names []string, ips []net.IP) bool {
	if !slices.Equal(sortedCopy(cert.DNSNames), sortedCopy(names)) || len(cert.IPAddresses) != len(ips) {
		return false
	}
	have := make([]string, len(ips))
	want := make([]string, len(ips))
	for i := range ips {
		have[i], want[i] = cert.IPAddresses[i].String(), ips[i].String()
	}
	return slices.Equal(sortedCopy(have), sortedCopy(want))
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// certNames are the names and addresses the server certificate covers for
// a listen address and the host aliases: the listen host itself, or, for
// an unspecified one (0.0.0.0, ::, ""), this machine's host name and the
// addresses of its interfaces; localhost and the loopback addresses when
// the mirror is reachable through them; and host.docker.internal, which is
// this machine inside Docker Desktop's VM.
func certNames(listen string, aliases map[string]string) ([]string, []net.IP) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	var names []string
	var ips []net.IP
	addIP := func(ip net.IP) {
		if ip == nil || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
			return
		}
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	addName := func(n string) {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()):
		if h, err := os.Hostname(); err == nil {
			addName(h)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					addIP(n.IP)
				}
			}
		}
		addName("localhost")
		addIP(net.IPv4(127, 0, 0, 1))
		addIP(net.IPv6loopback)
	case ip != nil:
		addIP(ip)
		if ip.IsLoopback() {
			addName("localhost")
		}
	default:
		addName(host)
		if host == "localhost" {
			addIP(net.IPv4(127, 0, 0, 1))
			addIP(net.IPv6loopback)
		}
	}
	hosts := make([]string, 0, len(aliases))
	for h := range aliases {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	for _, h := range hosts {
		addName(h)
	}
	addName("host.docker.internal")
	for i, ip := range ips {
		if v4 := ip.To4(); v4 != nil {
			ips[i] = v4
		}
	}
	return names, ips
}

// certSource hands out the server certificate, making a new one when the
// current one nears expiry, so a mirror that runs for a year renews it.
type certSource struct {
	ca    *localCA
	dir   string
	names []string
	ips   []net.IP
	now   func() time.Time

	mu   sync.Mutex
	cert tls.Certificate
}

func (c *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.cert.Leaf == nil || !now.Add(renewBefore).Before(c.cert.Leaf.NotAfter) {
		cert, err := c.ca.serverCert(c.dir, c.names, c.ips, now)
		if err != nil {
			return nil, err
		}
		c.cert = cert
	}
	return &c.cert, nil
}

// serverTLS returns the listener's TLS configuration for t, nil when TLS is
// off, and the local CA's PEM certificate with TLSAuto.
func serverTLS(t TLS, listen string, aliases map[string]string) (*tls.Config, []byte, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	switch t.Mode {
	case TLSOff:
		return nil, nil, nil
	case TLSFiles:
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: load cert %s and key %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
		return cfg, nil, nil
	case TLSAuto:
		if t.Dir == "" {
			return nil, nil, errors.New("tls auto: no directory for the local CA")
		}
		ca, err := loadOrCreateCA(t.Dir)
		if err != nil {
			return nil, nil, err
		}
		names, ips := certNames(listen, aliases)
		src := &certSource{ca: ca, dir: t.Dir, names: names, ips: ips, now: time.Now}
		if _, err := src.get(nil); err != nil {
			return nil, nil, err
		}
		cfg.GetCertificate = src.get
		return cfg, ca.pem, nil
	}
	return nil, nil, fmt.Errorf("tls: unknown mode %q", t.Mode)
}

// parsePair parses a PEM certificate and its PEM ECDSA key and checks that
// they belong together.
func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, errors.New("the certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("the key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("the key is not ECDSA")
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, nil, errors.New("the key does not belong to the certificate")
	}
	return cert, key, nil
}

func keyPEMOf(key *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(key) // cannot fail for a P-256 key
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func serialNumber() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writePrivate writes data to dir/name with mode 0600, atomically.
func writePrivate(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}
