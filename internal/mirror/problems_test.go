package mirror

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// probes counts the GET /v2/ the fake registry was sent.
func probes(hub *fakehub.Hub) int {
	n := 0
	for _, r := range hub.Requests() {
		if r.Server == fakehub.ServerRegistry && r.Method == http.MethodGet && r.Path == "/v2/" {
			n++
		}
	}
	return n
}

func probingNow(reg *registry) bool { return reg.client.Probing() }

// A pull of an image that is not cached fails while upstream is down: the
// status says so at once, and the probe clears it once upstream is back.
func TestFailedUncachedPullShowsProblemUntilProbeAnswers(t *testing.T) {
	manifest := func(t *testing.T, tm *testMirror, _ fakehub.Image) int {
		return tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept).status
	}
	layer := func(t *testing.T, tm *testMirror, img fakehub.Image) int {
		if st := manifest(t, tm, img); st != http.StatusOK {
			t.Fatalf("manifest with the CDN down: %d", st)
		}
		return tm.get(t, "/v2/alpine/blobs/"+img.Layers[0].Digest).status
	}
	for _, fault := range []struct {
		name string
		set  func(h *fakehub.Hub, on bool)
		pull func(t *testing.T, tm *testMirror, img fakehub.Image) int
	}{
		{"down", func(h *fakehub.Hub, on bool) { h.SetDown(on) }, manifest},
		{"503", func(h *fakehub.Hub, on bool) { h.SetStatus(map[bool]int{true: 503}[on]) }, manifest},
		{"429", func(h *fakehub.Hub, on bool) { h.SetTooManyRequests(on, 0) }, manifest},
		{"cdn down", func(h *fakehub.Hub, on bool) { h.SetCDNDown(on) }, layer},
	} {
		t.Run(fault.name, func(t *testing.T) {
			hub := newHub(t)
			img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
			tm := startMirror(t, hub, withProbe(time.Hour, time.Hour)) // the test wakes the probe itself
			fault.set(hub, true)
			if st := fault.pull(t, tm, img); st < 400 {
				t.Fatalf("pull with upstream %s: %d", fault.name, st)
			}
			if p := tm.Status().UpstreamProblem; !strings.Contains(p, "docker.io") {
				t.Fatalf("status after a failed pull: problem %q", p)
			}
			up := tm.upstreams[dockerHub]
			if !probingNow(up) {
				t.Fatalf("no probe watches the failing upstream")
			}
			fault.set(hub, false)
			up.client.ProbeNow()
			eventually(t, "the probe to clear the problem", func() bool { return tm.Status().UpstreamProblem == "" })
			eventually(t, "the probe loop to end", func() bool { return !probingNow(up) })
			tm.pull(t, "alpine", img)
		})
	}
}

// The probe runs only while a problem is shown.
func TestNoProbeTrafficWithoutProblem(t *testing.T) {
	const tick = time.Millisecond
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	tm := startMirror(t, hub, withProbe(tick, tick))
	tm.pull(t, "alpine", img)
	quiet := func(what string) {
		t.Helper()
		before := len(hub.Requests())
		time.Sleep(200 * tick) // a bounded number of probe intervals
		if n := len(hub.Requests()) - before; n != 0 {
			t.Errorf("%s: %d upstream requests in %d probe intervals, want none", what, n, 200)
		}
	}
	quiet("no problem")

	hub.SetStatus(http.StatusServiceUnavailable)
	if r := tm.get(t, "/v2/other/manifests/latest", "Accept", fullAccept); r.status < 500 {
		t.Fatalf("pull of an uncached image with upstream 503: %d", r.status)
	}
	eventually(t, "three probes while the problem is shown", func() bool { return probes(hub) >= 3 })
	hub.SetStatus(0)
	eventually(t, "the problem to clear", func() bool { return tm.Status().UpstreamProblem == "" })
	eventually(t, "the probe loop to end", func() bool { return !probingNow(tm.upstreams[dockerHub]) })
	quiet("after the problem cleared")
}

// Pinned images and prefetches are the app's own requests: they fill the
// cache but are not counted as clients' requests, hits or misses.
func TestOwnRequestsAreNotClientRequests(t *testing.T) {
	hub := newHub(t)
	hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	hub.AddImage("library/busybox", "latest", []byte("box"))
	tm := startMirrorCfg(t, hub, func(c *Config) { c.Pinned = []string{"alpine"} })
	eventually(t, "the pinned image to be fetched", func() bool {
		return strings.Contains(tm.logs.String(), "pinned images up to date")
	})
	if err := tm.Prefetch(context.Background(), "busybox", nil); err != nil {
		t.Fatal(err)
	}
	st := tm.Status()
	if st.Requests != 0 || st.CacheHits != 0 || st.CacheMisses != 0 || st.BytesFromCache != 0 || st.BytesFromUpstream != 0 {
		t.Errorf("after a pin and a prefetch: requests %d, hits %d, misses %d, bytes %d+%d; want all 0",
			st.Requests, st.CacheHits, st.CacheMisses, st.BytesFromCache, st.BytesFromUpstream)
	}
	if st.CacheBytes == 0 || st.UpstreamRequests["manifest_get"] == 0 {
		t.Errorf("the cache and upstream figures must still count them: %+v", st.Counters)
	}
	tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept)
	if st := tm.Status(); st.Requests != 1 || st.CacheHits != 1 {
		t.Errorf("a client's request: requests %d, hits %d; want 1, 1", st.Requests, st.CacheHits)
	}
}

// Clear and Pin publish a fresh status at once, without waiting for a
// client's request.
func TestCacheChangesPublishStatus(t *testing.T) {
	hub := newHub(t)
	hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	tm := startMirror(t, hub)
	updates, cancel := tm.Subscribe()
	defer cancel()
	tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept) // kept before the answer
	// The request's own status comes first; no other is due after it.
	for st := await(t, updates, "a status after the request"); st.Requests == 0; {
		st = await(t, updates, "a status with the request counted")
	}
	if err := tm.ClearCache(); err != nil {
		t.Fatal(err)
	}
	for st := await(t, updates, "a status after Clear"); st.CacheBytes != 0; {
		st = await(t, updates, "a status after Clear with nothing cached")
	}
	tm.SetPins([]string{"alpine"})
	for st := await(t, updates, "a status after Pin"); st.CacheBytes == 0; {
		st = await(t, updates, "a status after Pin with the image cached")
	}
}

// Blobs streamed without keeping (the disk is full) show a problem until a
// blob is kept again; a keyring that cannot be read shows one until it can.
func TestLocalProblems(t *testing.T) {
	m, err := New(Config{Listen: "127.0.0.1:0", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m.stats.streamedUncached()
	if p := m.Status().UpstreamProblem; !strings.Contains(p, "disk is full") {
		t.Errorf("after a blob streamed uncached: problem %q", p)
	}
	m.stats.blobKept()
	if p := m.Status().UpstreamProblem; p != "" {
		t.Errorf("after a blob was kept: problem %q", p)
	}

	answer := "fail"
	creds := m.watchKeyring(func(string) (string, string, bool, error) {
		switch answer {
		case "fail":
			return "", "", false, errors.New("no keyring")
		case "none":
			return "", "", false, nil // the app's store after its one error
		}
		return "u", "p", true, nil
	})
	for _, answer = range []string{"fail", "none"} {
		_, _, _, _ = creds(dockerHub)
		if p := m.Status().UpstreamProblem; !strings.Contains(p, "keyring") {
			t.Errorf("after the keyring answered %q: problem %q", answer, p)
		}
	}
	answer = "account"
	_, _, _, _ = creds(dockerHub)
	if p := m.Status().UpstreamProblem; p != "" {
		t.Errorf("after the keyring answered: problem %q", p)
	}
}

// A mirror that failed to start (port taken) starts with its new settings.
func TestReconfigureRestartsFailedMirror(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Config{Listen: ln.Addr().String(), CacheDir: t.TempDir()}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("start on a taken port: %v", err)
	}
	if st := m.Status(); !st.PortTaken || st.Listen != cfg.Listen {
		t.Errorf("status after the port was taken: %+v", st)
	}
	cfg.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Reconfigure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); st.State != Running || st.PortTaken {
		t.Errorf("after Reconfigure with a free port: %+v", st)
	}
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
