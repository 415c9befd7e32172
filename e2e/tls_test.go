package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServeTLSAuto runs `hubmirror serve --tls auto` and pulls through
// HTTPS with crane and skopeo trusting the local CA, checking digests; a
// client that does not trust the CA is refused, which shows the pulls
// really went over TLS. `hubmirror setup ca` prints the same CA.
//
// The mirror listens on 127.0.0.2, loopback but not the address crane
// treats as plain-HTTP-only (127.0.0.1, localhost), so crane uses https.
func TestServeTLSAuto(t *testing.T) {
	cr := newCrane(t)
	sk := newSkopeo(t)
	im := newImages(t)
	m := startMirrorEnv(t, im.hub.URL(), filepath.Join(t.TempDir(), "cache"), isolatedEnv(t),
		"--listen", "127.0.0.2:0", "--tls", "auto")
	conf := filepath.Dir(m.ConfigPath)

	caPEM, err := os.ReadFile(filepath.Join(conf, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "ca.key", "settings.json"} {
		if info, err := os.Stat(filepath.Join(conf, f)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, info.Mode(), err)
		}
	}
	if raw, _ := os.ReadFile(m.ConfigPath); bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Error("the settings file holds a key")
	}

	// setup ca prints the CA certificate.
	out, code := hubmirror(t, isolatedEnv(t), "", "setup", "ca", "--config", m.ConfigPath, "--tls", "auto")
	if code != 0 || out != string(caPEM) {
		t.Fatalf("setup ca: exit %d, output %q, want ca.crt", code, out)
	}
	block, _ := pem.Decode([]byte(out))
	if block == nil {
		t.Fatalf("setup ca: not PEM: %q", out)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("setup ca: %v, IsCA %v", err, ca != nil && ca.IsCA)
	}

	ref := m.Addr + "/library/alpine:3.20"

	// Without the CA, crane refuses the mirror's certificate.
	if out, err := runToolErr(cr.env, cr.bin, "digest", ref); err == nil || !strings.Contains(string(out), "certificate") {
		t.Fatalf("crane without the CA: %v\n%s", err, out)
	}

	// crane with SSL_CERT_FILE.
	craneEnv := append(slices.Clone(cr.env), "SSL_CERT_FILE="+filepath.Join(conf, "ca.crt"))
	if got := strings.TrimSpace(string(runTool(t, craneEnv, cr.bin, "digest", ref))); got != im.Schema2.Digest {
		t.Errorf("crane digest = %s, want %s", got, im.Schema2.Digest)
	}
	layout := filepath.Join(t.TempDir(), "crane")
	runTool(t, craneEnv, cr.bin, "pull", "--format", "oci", ref, layout)
	if lc := readLayout(t, layout); len(lc.Top) != 1 || lc.Top[0].Digest != im.Schema2.Digest || !slices.Equal(lc.Layers, layerDigests(im.Schema2)) {
		t.Errorf("crane layout: %+v", lc)
	}

	// skopeo with --src-cert-dir holding ca.crt.
	certDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(certDir, "ca.crt"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "skopeo")
	sk.run(t, "copy", "--quiet", "--src-no-creds", "--src-cert-dir", certDir, "docker://"+ref, "oci:"+dir)
	// skopeo writes schema2 as OCI into a layout: the layers keep their digests.
	if lc := readLayout(t, dir); len(lc.Top) != 1 || !slices.Equal(lc.Layers, layerDigests(im.Schema2)) {
		t.Errorf("skopeo layout: %+v", lc)
	}
	got := strings.TrimSpace(string(sk.run(t, "inspect", "--no-creds", "--cert-dir", certDir, "--format", "{{.Digest}}", "docker://"+ref)))
	if got != im.Schema2.Digest {
		t.Errorf("skopeo inspect digest = %s, want %s", got, im.Schema2.Digest)
	}
}
