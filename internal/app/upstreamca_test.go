package app

import (
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// Docker Hub behind an HTTPS endpoint whose CA the system does not
// trust: the mirror cannot pull until upstream_ca names that CA; saving
// the setting restarts the mirror, which reads the file and then pulls.
func TestUpstreamCARestartsMirror(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.AddImage("library/alpine", "3.20", []byte("layer"))
	target, err := url.Parse(hub.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	quiet := log.New(io.Discard, "", 0) // refused handshakes are the point
	proxy.ErrorLog = quiet
	team := httptest.NewUnstartedServer(proxy)
	team.Config.ErrorLog = quiet
	team.StartTLS()
	t.Cleanup(team.Close)

	dir := t.TempDir()
	caFile := filepath.Join(dir, "team-ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: team.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "settings.json")
	s := settings.Settings{Listen: "127.0.0.1:0", CacheDir: filepath.Join(dir, "cache"), Upstreams: map[string]string{"docker.io": team.URL}}
	if err := settings.Save(path, s); err != nil {
		t.Fatal(err)
	}
	b, err := NewBackend(path, s, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop() })
	manifest := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+b.Status().Addr+"/v2/library/alpine/manifests/3.20", nil)
		req.Header.Set("Accept", fakehub.MediaTypeDockerManifest)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := manifest(); got == http.StatusOK {
		t.Fatalf("pulled over HTTPS from an upstream whose CA is not trusted")
	}
	s.UpstreamCA = caFile
	if err := b.SaveSettings(s); err != nil {
		t.Fatal(err)
	}
	if got := manifest(); got != http.StatusOK {
		t.Errorf("with upstream_ca: manifest %d, want 200", got)
	}

	// A file gone by the next start is refused, naming the setting.
	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBackend(path, s, nil, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Error("NewBackend with a missing upstream_ca file succeeded")
	}
}
