package upstream

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// A transport made with a team mirror's CA talks to an upstream whose
// certificate that CA signed, as HTTP/2 like the system-roots one; without
// the CA the same upstream is refused, so the CA is what made it trusted.
// A file with no certificate in it is refused when the transport is made.
func TestNewTransportTrustsExtraCA(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			http.Error(w, "want HTTP/2", http.StatusHTTPVersionNotSupported)
			return
		}
		w.Header().Set("Content-Type", fakehub.MediaTypeDockerManifest)
		w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("b", 64))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	head := func(tr *http.Transport) error {
		t.Cleanup(tr.CloseIdleConnections)
		c, err := New("docker.io", srv.URL, Options{HTTP: NewHTTPClient(tr)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.For(nil).HeadManifest(context.Background(), "library/alpine", "latest", "")
		return err
	}

	withCA, err := NewTransport(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := head(withCA); err != nil {
		t.Errorf("with the upstream's CA: %v", err)
	}
	plain, err := NewTransport(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := head(plain); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the upstream's CA: %v, want a certificate error", err)
	}
	if _, err := NewTransport([]byte("not a certificate\n")); err == nil {
		t.Error("a CA file without a certificate was accepted")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error for a CA file without a certificate: %v", err)
	}
}
