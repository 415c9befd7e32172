package mirror

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func diskFree(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// mountTmpfs mounts a small tmpfs for a disk-full test. It skips where
// mounting is not allowed, except in CI (HUBMIRROR_E2E=1), which runs as
// root so that these tests always run there.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := runCmd("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir)
	if err != nil {
		msg := "mounting a tmpfs needs root (it simulates a full disk): " + strings.TrimSpace(out)
		if os.Getenv("HUBMIRROR_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := runCmd("umount", dir); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill leaves about free bytes on the file system of dir.
func fill(t *testing.T, dir string, free int64) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if avail := diskFree(t, dir); avail <= free {
			return p
		} else if avail-free < int64(len(chunk)) {
			chunk = chunk[:avail-free]
		}
		if _, err := f.Write(chunk); err != nil {
			return p
		}
	}
}

// A full disk never cuts a client: what does not fit is streamed straight
// from upstream, verified, and not kept; once there is room it is cached,
// and what is cached is exactly the blob.
func TestDiskFullStreamsWithoutKeeping(t *testing.T) {
	disk := mountTmpfs(t, "16m")
	hub := newHub(t)
	img := hub.AddImage("library/big", "1", pattern(6<<20))
	tm := startMirrorCfg(t, hub, func(c *Config) { c.CacheDir = filepath.Join(disk, "cache"); c.CacheMax = 1 << 30 })
	tm.dir = filepath.Join(disk, "cache")
	filler := fill(t, disk, 2<<20)

	for round := 0; round < 2; round++ {
		tm.pull(t, "big", img) // checks every digest
	}
	tm.blobs.Wait()
	layer := img.Layers[0].Digest
	if raw, err := os.ReadFile(blobFile(tm, layer)); err == nil && sha(raw) != layer {
		t.Fatalf("the cache holds wrong bytes for %s", layer)
	}
	if m := tm.get(t, "/metrics").String(); !strings.Contains(m, "hubmirror_uncached_streams_total") ||
		strings.Contains(m, "hubmirror_uncached_streams_total 0\n") {
		t.Errorf("/metrics does not count the uncached streams")
	}
	if p := tm.Status().UpstreamProblem; !strings.Contains(p, "disk is full") {
		t.Errorf("while blobs stream uncached, the status says %q", p)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	tm.pull(t, "big", img)
	tm.blobs.Wait()
	if raw, err := os.ReadFile(blobFile(tm, layer)); err != nil || sha(raw) != layer {
		t.Fatalf("with room again the layer is not cached whole (%v)", err)
	}
	if r := tm.get(t, "/v2/big/blobs/"+layer); r.header.Get("X-Hubmirror-Cache") != "hit" || sha(r.body) != layer {
		t.Errorf("served %q, want a verified hit", r.header.Get("X-Hubmirror-Cache"))
	}
	if p := tm.Status().UpstreamProblem; strings.Contains(p, "disk is full") {
		t.Errorf("a blob was kept, yet the status says %q", p)
	}
}

// When the disk fills up during a download, least recently used blobs are
// evicted to make room, and the new blob is committed exactly as hashed.
func TestDiskFullEvictsToMakeRoom(t *testing.T) {
	disk := mountTmpfs(t, "24m")
	hub := newHub(t)
	old := hub.AddImage("library/old", "1", pattern(6<<20))
	var fresh fakehub.Image
	{
		b := pattern(7 << 20)
		for i := range b {
			b[i] ^= 0x5a
		}
		fresh = hub.AddImage("library/fresh", "1", b)
	}
	tm := startMirrorCfg(t, hub, func(c *Config) { c.CacheDir = filepath.Join(disk, "cache"); c.CacheMax = 1 << 30 })
	tm.dir = filepath.Join(disk, "cache")
	tm.pullSettled(t, "old", old)
	fill(t, disk, 3<<20) // the fresh layer does not fit without the old one

	tm.pull(t, "fresh", fresh)
	tm.blobs.Wait()
	layer := fresh.Layers[0].Digest
	raw, err := os.ReadFile(blobFile(tm, layer))
	if err != nil || sha(raw) != layer {
		t.Fatalf("the new layer is not cached whole after eviction (%v)\n%s", err, tm.logs)
	}
	if cached(tm, old.Layers[0].Digest) {
		t.Errorf("the least recently used layer was not evicted")
	}
	if !strings.Contains(tm.logs.String(), "disk is full: evicted") {
		t.Errorf("no log line says the disk was full")
	}
}
