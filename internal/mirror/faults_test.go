package mirror

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// A cached blob whose file was damaged is never served as a complete body:
// it is found out before any byte goes out, removed, logged, counted, and
// fetched again from upstream for the client that asked.
func TestDamagedCachedBlobIsFetchedAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(path string) error
	}{
		{"flipped byte", func(p string) error {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			b := make([]byte, 1)
			if _, err := f.ReadAt(b, 1000); err != nil {
				return err
			}
			b[0] ^= 0x20
			_, err = f.WriteAt(b, 1000)
			return err
		}},
		{"flipped byte, time restored", func(p string) error {
			info, err := os.Stat(p)
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			raw[len(raw)/2] ^= 1
			// Another file with the old size and time: its identity differs.
			if err := os.WriteFile(p+".new", raw, 0o600); err != nil {
				return err
			}
			if err := os.Chtimes(p+".new", info.ModTime(), info.ModTime()); err != nil {
				return err
			}
			return os.Rename(p+".new", p)
		}},
		{"truncated", func(p string) error { return os.Truncate(p, 4096) }},
		{"emptied", func(p string) error { return os.Truncate(p, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub(t)
			img := hub.AddImage("library/app", "1", pattern(300_000))
			tm := startMirror(t, hub)
			tm.pullSettled(t, "app", img)
			layer := img.Layers[0].Digest
			if err := tc.damage(blobFile(tm, layer)); err != nil {
				t.Fatal(err)
			}
			before := hub.Counters().CDNGets
			for _, method := range []string{http.MethodHead, http.MethodGet} {
				r := tm.do(t, method, "/v2/app/blobs/"+layer)
				if r.status != http.StatusOK {
					t.Fatalf("%s after damage: %d %s", method, r.status, r.body)
				}
				if method == http.MethodGet && sha(r.body) != layer {
					t.Fatalf("GET after damage served bytes that hash to %s", sha(r.body))
				}
				if got := r.header.Get("Content-Length"); got != "300000" {
					t.Errorf("%s after damage: Content-Length %s", method, got)
				}
			}
			tm.blobs.Wait()
			if got := hub.Counters().CDNGets - before; got != 1 {
				t.Errorf("the damaged blob was fetched %d times from upstream, want 1", got)
			}
			if raw, err := os.ReadFile(blobFile(tm, layer)); err != nil || sha(raw) != layer {
				t.Errorf("the cache does not hold the right bytes again (%v)", err)
			}
			if n := strings.Count(tm.logs.String(), "cached blob did not match its digest"); n != 1 {
				t.Errorf("damage logged %d times, want once", n)
			}
			if m := tm.get(t, "/metrics").String(); !strings.Contains(m, "hubmirror_cache_damaged_blobs_total 1\n") {
				t.Errorf("/metrics does not count the damaged blob")
			}
			// Served from the cache again, with no more upstream GETs.
			if r := tm.get(t, "/v2/app/blobs/"+layer); sha(r.body) != layer || r.header.Get("X-Hubmirror-Cache") != "hit" {
				t.Errorf("after healing: %d, cache %q", r.status, r.header.Get("X-Hubmirror-Cache"))
			}
		})
	}
}

// A blob damaged while the mirror was stopped is found out on the first
// request after the start, before any byte is served.
func TestDamagedBlobFoundAfterRestart(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/app", "1", pattern(200_000))
	dir := t.TempDir()
	tm := startMirrorIn(t, hub, dir)
	tm.pullSettled(t, "app", img)
	if err := tm.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	layer := img.Layers[0].Digest
	p := blobFile(tm, layer)
	info, _ := os.Stat(p)
	raw, _ := os.ReadFile(p)
	raw[0] ^= 0xff
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(p, info.ModTime(), info.ModTime()) // bit rot keeps the time
	if err := tm.Start(); err != nil {
		t.Fatal(err)
	}
	tm.base = "http://" + tm.Addr()
	if r := tm.get(t, "/v2/app/blobs/"+layer); r.status != http.StatusOK || sha(r.body) != layer {
		t.Fatalf("after restart: %d, body hashes to %s", r.status, sha(r.body))
	}
}

// A pull that outlives upstream's token succeeds under self_auth too, for a
// public and for a private image: the download that resumes after a cut
// connection, finding its signed CDN URL expired too, goes back to the
// registry and renews the user's upstream token instead of failing
// everyone.
func TestSelfAuthPullOutlivesUpstreamToken(t *testing.T) {
	for _, private := range []bool{false, true} {
		t.Run(map[bool]string{false: "public", true: "private"}[private], func(t *testing.T) {
			hub := newHub(t)
			hub.AddUser("alice", "alice-pw")
			img := hub.AddImage("alice/app", "1", pattern(3<<20))
			if private {
				hub.SetPrivate("alice/app", "alice")
			}
			tm := startAuthMirror(t, hub)
			_, tok := tm.login(t, "alice", "alice-pw", "alice/app")
			auth := []string{"Authorization", "Bearer " + tok, "Accept", fullAccept}
			if r := tm.get(t, "/v2/alice/app/manifests/1", auth...); r.status != http.StatusOK {
				t.Fatalf("manifest: %d %s", r.status, r.body)
			}
			layer := img.Layers[0].Digest
			// The first CDN GET pauses after 512 KiB and is cut at 1 MiB;
			// while it is paused, every upstream token and signed URL
			// expires.
			reached, release := hub.PauseBlob(layer, 512<<10)
			hub.DropBlobAfter(1<<20, 1)
			got := make(chan []byte, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, tm.base+"/v2/alice/app/blobs/"+layer, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				body, err := fetchBody(req)
				if err != nil {
					t.Errorf("blob across token expiry: %v", err)
				}
				got <- body
			}()
			await(t, reached, "the CDN GET to pause")
			before := hub.Counters()
			hub.ExpireTokens()
			hub.Advance(fakehub.CDNURLTTL + time.Minute)
			release()
			if body := await(t, got, "the blob"); sha(body) != layer {
				t.Fatalf("blob across token expiry: %d bytes hashing to %s\n%s", len(body), sha(body), tm.logs)
			}
			after := hub.Counters()
			if after.Unauthorized == before.Unauthorized || after.CDNForbidden == before.CDNForbidden {
				t.Errorf("the expired token was refused %d times, the expired URL %d times: the test did not exercise renewal",
					after.Unauthorized-before.Unauthorized, after.CDNForbidden-before.CDNForbidden)
			}
		})
	}
}

// fetchBody sends req and returns the body of a 200 answer.
func fetchBody(req *http.Request) ([]byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, err
}

// A tmp/ directory removed under a running mirror is made again; one that
// cannot be made (a file in its place) still serves the blob, straight from
// upstream, and no answer shows a local path.
func TestRemovedTempDirectory(t *testing.T) {
	hub := newHub(t)
	a := hub.AddImage("library/a", "1", pattern(100_000))
	b := hub.AddImage("library/b", "1", pattern(100_001))
	tm := startMirror(t, hub)
	tmp := filepath.Join(tm.dir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	tm.pullSettled(t, "a", a)
	if !cached(tm, a.Layers[0].Digest) {
		t.Errorf("with tmp/ made again the layer is not cached")
	}
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v2/b/manifests/1", "/v2/b/blobs/" + b.Layers[0].Digest, "/v2/b/blobs/" + b.Config.Digest} {
		r := tm.get(t, p, "Accept", fullAccept)
		if r.status != http.StatusOK {
			t.Errorf("GET %s with no tmp/: %d %s", p, r.status, r.body)
		}
		if strings.Contains(string(r.body), tm.dir) {
			t.Errorf("GET %s shows a local path: %s", p, r.body)
		}
	}
	tm.pull(t, "b", b) // every digest checked
}
