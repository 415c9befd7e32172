//go:build linux

package e2e

// The engine tests configure real container engines (dockerd, containerd
// with ctr and its CRI plugin, podman, buildah) with the files `hubmirror
// setup CLIENT --apply` writes, pull through the mirror in front of a fake
// Docker Hub, remove the local images and pull again. Each engine runs as
// root with its configuration from the test's own files and its state in
// a temporary directory, and is stopped by its PID. What an engine creates
// elsewhere whatever its flags (dockerd's /etc/docker/key.json and
// /opt/containerd, containers/image's caches under /var) is removed
// afterwards unless it was there before.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// The engines, each with the Debian package that installs it.
var (
	toolDockerd    = tool{name: "dockerd", install: "apt-get install docker.io (or scripts/deps.sh --test)"}
	toolDocker     = tool{name: "docker", install: "apt-get install docker.io (or scripts/deps.sh --test)"}
	toolContainerd = tool{name: "containerd", install: "apt-get install containerd (or scripts/deps.sh --test)"}
	toolCtr        = tool{name: "ctr", install: "apt-get install containerd (or scripts/deps.sh --test)"}
	toolPodman     = tool{name: "podman", install: "apt-get install podman (or scripts/deps.sh --test)"}
	toolBuildah    = tool{name: "buildah", install: "apt-get install buildah (or scripts/deps.sh --test)"}
)

const (
	// engineStartTimeout bounds how long an engine may take to answer on
	// its socket.
	engineStartTimeout = 60 * time.Second
	// engineStopTimeout bounds how long an engine may take to exit after
	// SIGTERM before it is killed.
	engineStopTimeout = 20 * time.Second
	// pullTimeout bounds one pull or removal by an engine's client: the
	// images are a few hundred bytes, so a pull that takes this long is
	// stuck (retrying an unreachable registry, say).
	pullTimeout = 90 * time.Second
)

// needRoot fails (under HUBMIRROR_E2E=1) or skips a test that starts an
// engine: they mount file systems and own sockets only root may.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	msg := "the engine tests start dockerd, containerd, podman and buildah, which need root"
	if e2eRequired() {
		t.Fatal(msg + " (HUBMIRROR_E2E=1)")
	}
	t.Skip(msg + "; " + e2eHint)
}

// engineDir returns a new directory for an engine's state, removed when
// the test ends. It lives directly under the system temp directory, not
// under t.TempDir, so the unix sockets inside stay within the 108 bytes a
// socket path may have.
func engineDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// engineImage adds repo:tag to hub as a one-layer image for this
// machine's platform, so every engine accepts and unpacks it; the file in
// its layer names the repository, so two images never share a layer.
func engineImage(hub *fakehub.Hub, repo, tag string) fakehub.Image {
	layer := fakehub.Layer(map[string]string{"etc/hubmirror-e2e": repo + ":" + tag + "\n"})
	return hub.AddPlatformImage(repo, tag, "linux/"+runtime.GOARCH, layer)
}

// applySetup runs `hubmirror setup ARGS` (with --apply or --undo among
// them) for the mirror m and fails t unless it exits 0. It returns what
// the command printed.
func applySetup(t *testing.T, m *mirror, args ...string) string {
	t.Helper()
	args = append([]string{"setup"}, args...)
	args = append(args, "--host", m.Addr, "--config", m.ConfigPath)
	out, code := hubmirror(t, isolatedEnv(t), "", args...)
	if code != 0 {
		t.Fatalf("hubmirror %s: exit %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// runBounded runs bin with args and env, killing it after timeout, and
// returns its combined output.
func runBounded(timeout time.Duration, env []string, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = childProcAttr()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return out, fmt.Errorf("%s %s did not finish within %v: %w", filepath.Base(bin), strings.Join(args, " "), timeout, ctx.Err())
	}
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return out, nil
}

// mustRun runs bin like runBounded, bounded by pullTimeout, and fails t
// with the output when it does not exit 0.
func mustRun(t *testing.T, env []string, bin string, args ...string) []byte {
	t.Helper()
	out, err := runBounded(pullTimeout, env, bin, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// engine is a daemon the test started: dockerd or containerd.
type engine struct {
	name    string
	cmd     *exec.Cmd
	log     *logTail
	exited  chan struct{} // closed once Wait has returned
	waitErr error         // Wait's result, valid after exited is closed
	once    sync.Once
}

// startEngine starts bin with args in its own process group and stops it
// when t ends; on failure t's log gets the engine's last lines.
func startEngine(t *testing.T, name string, env []string, bin string, args ...string) *engine {
	t.Helper()
	e := &engine{name: name, log: newLogTail(logTailLines), exited: make(chan struct{})}
	e.cmd = exec.Command(bin, args...)
	e.cmd.Env = env
	e.cmd.Stdout = e.log
	e.cmd.Stderr = e.log
	// Its own group, so a stuck engine is killed with what it started
	// (dockerd's containerd), and the kernel kills it if the test dies.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	e.cmd.WaitDelay = 5 * time.Second
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		e.waitErr = e.cmd.Wait()
		close(e.exited)
	}()
	t.Cleanup(func() {
		e.stop(t)
		if t.Failed() {
			t.Logf("%s log (last %d lines):\n%s", name, logTailLines, e.log)
		}
	})
	return e
}

// waitReady calls ready until it succeeds, failing t when the engine
// exits or engineStartTimeout passes first.
func (e *engine) waitReady(t *testing.T, ready func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), engineStartTimeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		err := ready(attempt)
		cancelAttempt()
		if err == nil {
			return
		}
		select {
		case <-e.exited:
			t.Fatalf("%s exited before it was ready: %v (last error: %v)", e.name, e.waitErr, err)
		case <-ctx.Done():
			t.Fatalf("%s not ready within %v: %v", e.name, engineStartTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to the engine's PID and waits for it to exit, killing
// its process group when it takes longer than engineStopTimeout (while the
// engine lives, so the group is still the one it leads). It is safe to
// call twice.
func (e *engine) stop(t *testing.T) {
	t.Helper()
	e.once.Do(func() {
		select {
		case <-e.exited:
			t.Errorf("%s exited on its own: %v", e.name, e.waitErr)
			return
		default:
		}
		pid := e.cmd.Process.Pid
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Errorf("signal %s (pid %d): %v", e.name, pid, err)
		}
		select {
		case <-e.exited:
		case <-time.After(engineStopTimeout):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-e.exited
			t.Errorf("%s (pid %d) did not exit within %v of SIGTERM; killed", e.name, pid, engineStopTimeout)
		}
	})
}

// dialUnix reports whether something accepts connections on the unix
// socket at path.
func dialUnix(ctx context.Context, path string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	return conn.Close()
}

// watchLeftovers removes, when t ends, those of paths that do not exist
// now: files an engine creates outside its own directories whatever its
// flags. Cleanups run last-in first-out, so call it before starting the
// engine and the removal comes after the engine stopped.
func watchLeftovers(t *testing.T, paths ...string) {
	t.Helper()
	var created []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			created = append(created, p)
		}
	}
	t.Cleanup(func() {
		for _, p := range created {
			if err := os.RemoveAll(p); err != nil {
				t.Errorf("remove %s, which the engine created: %v", p, err)
			}
		}
	})
}

// pullCounts is what the hub and the mirror had served at one moment.
type pullCounts struct {
	hub fakehub.Counters
	// fromCache is the blob bytes the mirror served from its cache.
	fromCache float64
}

// cacheBytesSeries is the sample of the mirror's metrics that counts blob
// bytes served from its cache.
const cacheBytesSeries = `hubmirror_served_bytes_total{source="cache"}`

// snapshot reads hub's counters and the bytes the mirror served from its
// cache.
func snapshot(t *testing.T, hub *fakehub.Hub, m *mirror) pullCounts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fromCache, err := scrapeSeries(ctx, m.URL("/metrics"), cacheBytesSeries)
	if err != nil {
		t.Fatalf("mirror metrics: %v", err)
	}
	return pullCounts{hub: hub.Counters(), fromCache: fromCache}
}

// imageBlobs returns img's config and layers.
func imageBlobs(img fakehub.Image) []fakehub.Blob {
	return append([]fakehub.Blob{img.Config}, img.Layers...)
}

// checkColdPull fails t unless every blob of img came from the hub since
// before: proof that the engine's pull went through the mirror, since the
// engine knows no other way to the hub.
func checkColdPull(t *testing.T, who string, before, after pullCounts, img fakehub.Image) {
	t.Helper()
	for _, b := range imageBlobs(img) {
		if after.hub.BlobGetsByDigest[b.Digest] <= before.hub.BlobGetsByDigest[b.Digest] {
			t.Errorf("%s: the hub never served blob %s of %s: the pull did not go through the mirror", who, b.Digest, img.Repo)
		}
	}
}

// checkWarmPull fails t unless the pull between before and after made no
// blob GET upstream and got every blob of img from the mirror's cache: a
// pull that found the blobs still on the engine's side fetches none and
// proves nothing.
func checkWarmPull(t *testing.T, who string, before, after pullCounts, img fakehub.Image) {
	t.Helper()
	if d := after.hub.BlobGets - before.hub.BlobGets; d != 0 {
		t.Errorf("%s: the re-pull made %d blob GETs upstream, want 0", who, d)
	}
	if d := after.hub.CDNGets - before.hub.CDNGets; d != 0 {
		t.Errorf("%s: the re-pull fetched %d blobs from the CDN, want 0", who, d)
	}
	var size int64
	for _, b := range imageBlobs(img) {
		size += b.Size
	}
	if d := after.fromCache - before.fromCache; d < float64(size) {
		t.Errorf("%s: the mirror served %v bytes from its cache, want at least the image's %d: did the engine fetch the blobs again?", who, d, size)
	}
}
