package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestKilledDuringDownloadsStaysConsistent kills `hubmirror serve` with
// SIGKILL while it downloads, again and again, and checks after every
// restart that no temp file is left, every cached blob matches its digest
// (`hubmirror cache verify`), and pulls still give the right bytes.
func TestKilledDuringDownloadsStaysConsistent(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.SetCDNBandwidth(8 << 20) // slow enough to be killed mid-blob
	var imgs []fakehub.Image
	for i := range 6 {
		imgs = append(imgs, hub.AddImage(fmt.Sprintf("library/img%d", i), "1", randomBytes(3<<20, byte(i+1))))
	}
	cacheDir := filepath.Join(t.TempDir(), "cache")
	env := isolatedEnv(t)
	kept := 0
	for round := range 6 {
		m := startMirrorEnv(t, hub.URL(), cacheDir, env)
		if entries, _ := os.ReadDir(filepath.Join(cacheDir, "tmp")); len(entries) != 0 {
			t.Fatalf("round %d: %d temp files survived the restart", round, len(entries))
		}
		// Start pulls of every layer, read part of each (more every round,
		// so later rounds crash while blobs are committed), then crash.
		part := int64(round) * 700 << 10 // the last rounds read whole layers
		var wg sync.WaitGroup
		started := make(chan struct{}, len(imgs))
		for _, img := range imgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(m.URL("/v2/" + img.Repo + "/blobs/" + img.Layers[0].Digest))
				if err != nil {
					started <- struct{}{}
					return
				}
				defer resp.Body.Close()
				_, _ = io.CopyN(io.Discard, resp.Body, 64<<10+part)
				started <- struct{}{}
				_, _ = io.Copy(io.Discard, resp.Body)
			}()
		}
		for range imgs {
			<-started
		}
		if part >= 3<<20 {
			// Whole layers were read: crash once some are committed, while
			// the others are being fsynced and renamed.
			wg.Wait()
			testutil.Eventually(t, "a committed blob", func() bool {
				blobs, _ := filepath.Glob(filepath.Join(cacheDir, "blobs", "sha256", "*", "*"))
				return len(blobs) > 0
			})
		}
		m.kill(t)
		wg.Wait()

		out, code := hubmirror(t, env, "", "cache", "verify", "--cache-dir", cacheDir,
			"--config", m.ConfigPath)
		if code != 0 || !strings.Contains(out, "Every cached blob matches") {
			t.Fatalf("round %d: cache verify after a crash: exit %d: %s", round, code, out)
		}
		blobs, _ := filepath.Glob(filepath.Join(cacheDir, "blobs", "sha256", "*", "*"))
		kept = len(blobs)
	}
	if kept == 0 {
		t.Fatal("no blob was ever committed before a crash: the test checked nothing")
	}
	t.Logf("%d blobs in the cache after the crashes", kept)
	m := startMirrorEnv(t, hub.URL(), cacheDir, env)
	for _, img := range imgs {
		if got := status(t, m.URL("/v2/"+img.Repo+"/manifests/1")); got != http.StatusOK {
			t.Errorf("%s after the crashes: %d", img.Repo, got)
		}
		fetchBlobOK(t, m, img.Repo, img.Layers[0])
	}
}

// fetchBlobOK downloads a blob through the mirror and checks its digest.
func fetchBlobOK(t *testing.T, m *mirror, repo string, b fakehub.Blob) {
	t.Helper()
	client := newHTTPClient(1)
	defer client.CloseIdleConnections()
	if err := fetchMirrorBlob(t.Context(), client, m.Addr, repo, b.Digest, b.Size); err != nil {
		t.Error(err)
	}
}

// TestCacheVerifyFindsFlippedByte: `hubmirror cache verify` reports and
// removes a blob with one byte changed, and exits 1.
func TestCacheVerifyFindsFlippedByte(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := hub.AddImage("library/alpine", "3.20", randomBytes(100_000, 9))
	cacheDir := filepath.Join(t.TempDir(), "cache")
	env := isolatedEnv(t)
	m := startMirrorEnv(t, hub.URL(), cacheDir, env)
	fetchBlobOK(t, m, img.Repo, img.Layers[0])
	m.stop(t)
	d := img.Layers[0].Digest
	path := filepath.Join(cacheDir, "blobs", "sha256", d[7:9], d[7:])
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[5000] ^= 0x40
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := hubmirror(t, env, "", "cache", "verify", "--cache-dir", cacheDir, "--config", m.ConfigPath)
	if code != 1 || !strings.Contains(out, "corrupt, removed: "+d) {
		t.Errorf("verify: exit %d: %s", code, out)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("the corrupt blob is still in the cache")
	}
	out, _ = hubmirror(t, env, "", "cache", "ls", "--cache-dir", cacheDir, "--config", m.ConfigPath)
	if strings.Contains(out, "alpine:3.20") && !strings.Contains(out, "partly cached") {
		t.Errorf("cache ls does not say the image lost a layer:\n%s", out)
	}
}
