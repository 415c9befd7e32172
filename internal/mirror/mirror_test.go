package mirror

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// /metrics reports the counters in the Prometheus text format.
func TestMetrics(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", pattern(1000))
	tm := startMirror(t, hub)
	tm.pull(t, "alpine", img)
	tm.pull(t, "alpine", img)

	r := tm.get(t, "/metrics")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	layerBytes := img.Config.Size + img.Layers[0].Size
	c := hub.Counters()
	for _, want := range []string{
		"hubmirror_cache_hits_total 3",   // the second pull: manifest, config, layer
		"hubmirror_cache_misses_total 3", // the first pull
		fmt.Sprintf(`hubmirror_served_bytes_total{source="cache"} %d`, layerBytes),
		fmt.Sprintf(`hubmirror_served_bytes_total{source="upstream"} %d`, layerBytes),
		fmt.Sprintf("hubmirror_upstream_bytes_total %d", layerBytes),
		`hubmirror_upstream_requests_total{kind="blob_get"} 2`,
		`hubmirror_upstream_requests_total{kind="manifest_get"} 1`,
		`hubmirror_upstream_requests_total{kind="manifest_head"} 3`, // the first met the 401 challenge
		"hubmirror_downloads_in_flight 0",
		fmt.Sprintf(`hubmirror_upstream_ratelimit_remaining{registry="docker.io"} %d`, 100-c.ManifestGets),
		"# TYPE hubmirror_cache_hits_total counter",
	} {
		if !strings.Contains(string(r.body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", r.body)
	}
	if got := tm.Status().DockerHubPullsLeft; got != 100-c.ManifestGets {
		t.Errorf("DockerHubPullsLeft = %d", got)
	}
}

// Temp files that a crash left behind are removed at start.
func TestLeftoverTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(tmp, "blob-123")
	if err := os.WriteFile(leftover, []byte("half a layer"), 0o600); err != nil {
		t.Fatal(err)
	}
	startMirrorIn(t, newHub(t), dir)
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temp file still there: %v", err)
	}
}

// An address in use fails at once with a message that says what to do.
func TestAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m, err := New(Config{Listen: ln.Addr().String(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Start()
	if !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("Start on a used port: %v", err)
	}
	for _, want := range []string{ln.Addr().String(), "--listen", "AirPlay"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
	if st := m.Status(); st.State != Failed || st.Err == "" {
		t.Errorf("status after failed start: %+v", st)
	}
}

// Two mirrors cannot share a cache directory.
func TestCacheDirectoryIsLocked(t *testing.T) {
	hub := newHub(t)
	tm := startMirror(t, hub)
	other, err := New(Config{Listen: "127.0.0.1:0", CacheDir: tm.dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); err == nil || !strings.Contains(err.Error(), "in use by another hubmirror") {
		t.Errorf("second mirror on one cache dir: %v", err)
		other.Stop(context.Background())
	}
}

// Subscribers see state changes and counter changes; the mirror can be
// stopped and started again, keeping its cache.
func TestSubscribeStopStart(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("x"))
	tm := startMirror(t, hub)
	updates, cancel := tm.Subscribe()
	defer cancel()
	if st := await(t, updates, "the first snapshot"); st.State != Running || st.Addr == "" {
		t.Fatalf("first snapshot: %+v", st)
	}
	tm.pull(t, "alpine", img)
	for st := await(t, updates, "a counter update"); st.Requests < 3; st = await(t, updates, "a counter update") {
	}

	if err := tm.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for st := await(t, updates, "stopped"); st.State != Stopped; st = await(t, updates, "stopped") {
	}
	if _, err := http.Get(tm.base + "/v2/"); err == nil {
		t.Errorf("the port still answers after Stop")
	}
	if err := tm.Start(); err != nil {
		t.Fatal(err)
	}
	for st := await(t, updates, "running"); st.State != Running; st = await(t, updates, "running") {
	}
	tm.base = "http://" + tm.Addr()
	before := hub.Counters().CDNGets
	tm.pull(t, "alpine", img)
	if hub.Counters().CDNGets != before {
		t.Errorf("after a restart the cache was not used")
	}
}

// Stop cuts a download that outlives the grace period and leaves no temp
// file behind.
func TestStopDuringDownload(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/big", "1", pattern(1<<20))
	reached, release := hub.PauseBlob(img.Layers[0].Digest, 1000)
	defer release()
	tm := startMirror(t, hub)
	go func() {
		resp, err := http.Get(tm.base + "/v2/library/big/blobs/" + img.Layers[0].Digest)
		if err == nil {
			readAll(resp)
		}
	}()
	await(t, reached, "the download to start")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := tm.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(tm.dir, "tmp"))
	if len(entries) != 0 {
		t.Errorf("temp files left after Stop: %v", entries)
	}
}

// No token, signed URL or Authorization value reaches the log.
func TestLogsCarryNoSecrets(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("x"))
	tm := startMirror(t, hub)
	tm.pull(t, "alpine", img)
	hub.DropBlobAfter(0, 10)
	hub.ExpireTokens()
	other := hub.AddImage("library/other", "1", pattern(5000))
	tm.get(t, "/v2/library/other/blobs/"+other.Layers[0].Digest)

	logs := tm.logs.String()
	if !strings.Contains(logs, "msg=request") {
		t.Fatalf("no request lines were logged:\n%s", logs)
	}
	secrets := map[string]bool{}
	for _, r := range hub.Requests() {
		if _, tok, ok := strings.Cut(r.Authorization, " "); ok {
			secrets[tok] = true
		}
		if r.Server == "cdn" && r.RawQuery != "" {
			secrets[r.RawQuery] = true
			for _, kv := range strings.Split(r.RawQuery, "&") {
				if _, v, _ := strings.Cut(kv, "="); len(v) > 8 {
					secrets[v] = true
				}
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatal("the hub saw no tokens or signed URLs: the test checks nothing")
	}
	for s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains a secret %q", s)
		}
	}
	if regexp.MustCompile(`(?i)authorization|bearer `).MatchString(logs) {
		t.Errorf("the log mentions an Authorization header:\n%s", logs)
	}
}

// Reconfigure moves a running mirror to a new address and cache directory.
func TestReconfigure(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", []byte("x"))
	tm := startMirror(t, hub)
	tm.pull(t, "alpine", img)
	oldBase := tm.base
	newDir := t.TempDir()
	err := tm.Reconfigure(context.Background(), Config{
		Listen: "127.0.0.1:0", CacheDir: newDir, Upstreams: map[string]string{dockerHub: hub.URL()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := tm.Status(); st.State != Running || "http://"+st.Addr == oldBase {
		t.Fatalf("after Reconfigure: %+v", st)
	}
	if _, err := http.Get(oldBase + "/v2/"); err == nil {
		t.Errorf("the old address still answers")
	}
	tm.base, tm.dir = "http://"+tm.Addr(), newDir
	before := hub.Counters().CDNGets
	tm.pull(t, "alpine", img)
	if hub.Counters().CDNGets != before+2 {
		t.Errorf("the new, empty cache directory was not used")
	}
	if _, err := os.Stat(filepath.Join(newDir, "blobs")); err != nil {
		t.Errorf("new cache directory: %v", err)
	}
}
