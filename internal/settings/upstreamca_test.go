package settings

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCAPEM is a fresh self-signed CA certificate as PEM, and its key as
// PEM (a file that holds only a key is no CA file).
func testCAPEM(t *testing.T) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "team mirror CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// The upstream_ca setting: absent is the system's roots alone; the path
// of a file with a certificate is kept and UpstreamCAPEM reads it; a
// relative path, a missing file and a file without a certificate are each
// refused with a FieldError for "upstream_ca" that says what to change.
func TestUpstreamCASetting(t *testing.T) {
	tempHome(t)
	dir := t.TempDir()
	cert, key := testCAPEM(t)
	good := filepath.Join(dir, "team-ca.crt")
	keyOnly := filepath.Join(dir, "key.pem")
	garbage := filepath.Join(dir, "garbage.crt")
	for name, body := range map[string][]byte{
		good:    append([]byte("# the team mirror's CA\n"), cert...),
		keyOnly: key,
		garbage: []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"),
	} {
		if err := os.WriteFile(name, body, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	s := Settings{Listen: DefaultListen, CacheDir: "/tmp/cache"}
	if err := s.Validate(); err != nil {
		t.Fatalf("no upstream_ca: %v", err)
	}
	if pemBytes, err := s.UpstreamCAPEM(); err != nil || pemBytes != nil {
		t.Errorf("no upstream_ca: UpstreamCAPEM = %q, %v; want nil", pemBytes, err)
	}
	s.UpstreamCA = good
	if err := s.Validate(); err != nil {
		t.Fatalf("upstream_ca %s: %v", good, err)
	}
	if pemBytes, err := s.UpstreamCAPEM(); err != nil || !strings.Contains(string(pemBytes), string(cert)) {
		t.Errorf("UpstreamCAPEM = %q, %v; want the file", pemBytes, err)
	}

	for _, tc := range []struct{ path, want string }{
		{"team-ca.crt", "must be an absolute path"},
		{filepath.Join(dir, "missing.crt"), "hubmirror setup ca"},
		{keyOnly, "holds no PEM certificate"},
		{garbage, "holds no PEM certificate"},
	} {
		s := Settings{Listen: DefaultListen, CacheDir: "/tmp/cache", UpstreamCA: tc.path}
		err := s.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "upstream_ca" || fe.Value != tc.path || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("upstream_ca %q: %v, want a FieldError for \"upstream_ca\" saying %q", tc.path, err, tc.want)
		}
		if _, err := s.UpstreamCAPEM(); !errors.As(err, &fe) || fe.Field != "upstream_ca" {
			t.Errorf("UpstreamCAPEM of %q: %v, want a FieldError", tc.path, err)
		}
	}

	path := filepath.Join(dir, "settings.json")
	if err := os.WriteFile(path, []byte(`{"upstream-ca": "/x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `"upstream_ca"`) {
		t.Errorf("unknown field: %v, want the known fields to list \"upstream_ca\"", err)
	}
}

// --upstream-ca overrides the file, is made absolute, and a file without
// a certificate is refused naming the flag.
func TestUpstreamCAFlag(t *testing.T) {
	tempHome(t)
	dir := t.TempDir()
	cert, key := testCAPEM(t)
	for name, body := range map[string][]byte{"file.crt": cert, "flag.crt": cert, "key.pem": key} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "settings.json")
	if err := os.WriteFile(path, []byte(`{"upstream_ca": "`+filepath.Join(dir, "file.crt")+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	load := func(register func(*Flags, *flag.FlagSet), args ...string) (Settings, error) {
		t.Helper()
		var f Flags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		register(&f, fs)
		if err := fs.Parse(append([]string{"--config", path}, args...)); err != nil {
			t.Fatal(err)
		}
		s, _, err := f.Load()
		return s, err
	}
	serve := (*Flags).Register
	if s, err := load(serve); err != nil || s.UpstreamCA != filepath.Join(dir, "file.crt") {
		t.Errorf("no flag: %q, %v", s.UpstreamCA, err)
	}
	// login has it too: it checks a password with a team mirror.
	for name, register := range map[string]func(*Flags, *flag.FlagSet){"serve": serve, "login": (*Flags).RegisterUpstreams} {
		if s, err := load(register, "--upstream-ca", "flag.crt"); err != nil || s.UpstreamCA != filepath.Join(dir, "flag.crt") {
			t.Errorf("%s --upstream-ca flag.crt: %q, %v; want it absolute", name, s.UpstreamCA, err)
		}
	}
	if s, err := load(serve, "--upstream-ca", ""); err != nil || s.UpstreamCA != "" {
		t.Errorf(`--upstream-ca "": %q, %v`, s.UpstreamCA, err)
	}
	_, err := load(serve, "--upstream-ca", "key.pem")
	if err == nil || !strings.Contains(err.Error(), "--upstream-ca") || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("--upstream-ca key.pem: %v", err)
	}
}
