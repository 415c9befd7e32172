//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// existingDaemonJSON is a daemon.json a user already has: another key and
// another mirror, both of which `setup docker --apply` must keep. The
// other mirror refuses connections, so a pull that reaches it first fails
// over to the next one, and one that reaches only it fails.
const existingDaemonJSON = `{
  "log-level": "warn",
  "registry-mirrors": ["http://127.0.0.1:1"]
}
`

// TestDockerdPullsThroughSetupApply: `setup docker --apply --file`
// merges the mirror into an existing daemon.json, keeping its other key and
// mirror; an isolated dockerd started with that file pulls a Docker Hub
// image through the mirror, and after `docker rmi` pulls it again with no
// blob GET upstream. `--undo` gives back the user's file.
func TestDockerdPullsThroughSetupApply(t *testing.T) {
	needRoot(t)
	dockerd := toolDockerd.path(t)
	docker := toolDocker.path(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := engineImage(hub, "library/hmdocker", "1")
	m := startMirror(t, hub.URL())

	dir := engineDir(t, "hm-dockerd-")
	conf := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(conf, []byte(existingDaemonJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	applySetup(t, m, "docker", "--apply", "--file", conf)
	applied := checkDaemonJSON(t, conf, m.Addr)
	applySetup(t, m, "docker", "--apply", "--file", conf)
	if again, err := os.ReadFile(conf); err != nil || !bytes.Equal(again, applied) {
		t.Errorf("a second --apply changed daemon.json (%v):\n%s\nwas:\n%s", err, again, applied)
	}

	d := startDockerd(t, dockerd, dir, conf)
	ref := "docker.io/library/hmdocker:1"
	before := snapshot(t, hub, m)
	mustRun(t, d.env, docker, "pull", ref)
	after := snapshot(t, hub, m)
	checkColdPull(t, "docker pull", before, after, img)
	if id := strings.TrimSpace(string(mustRun(t, d.env, docker, "image", "inspect", "--format", "{{.Id}}", ref))); id != img.Config.Digest {
		t.Errorf("docker pulled image %s, want the hub's %s", id, img.Config.Digest)
	}

	mustRun(t, d.env, docker, "rmi", ref)
	if out, err := runBounded(pullTimeout, d.env, docker, "image", "inspect", ref); err == nil {
		t.Fatalf("docker rmi left the image:\n%s", out)
	}
	before = snapshot(t, hub, m)
	mustRun(t, d.env, docker, "pull", ref)
	checkWarmPull(t, "docker re-pull", before, snapshot(t, hub, m), img)

	d.stop(t)
	applySetup(t, m, "docker", "--undo", "--file", conf)
	var got, want any
	undone, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(undone, &got); err != nil {
		t.Fatalf("daemon.json after --undo is not JSON: %v\n%s", err, undone)
	}
	if err := json.Unmarshal([]byte(existingDaemonJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--undo left\n%s\nwant what was there before\n%s", undone, existingDaemonJSON)
	}
}

// checkDaemonJSON fails t unless the daemon.json at path keeps the
// existing file's other key and mirror and lists the mirror at addr first.
// It returns the file's bytes.
func checkDaemonJSON(t *testing.T, path, addr string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		LogLevel        string   `json:"log-level"`
		RegistryMirrors []string `json:"registry-mirrors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("daemon.json after --apply is not JSON: %v\n%s", err, raw)
	}
	want := []string{"http://" + addr, "http://127.0.0.1:1"}
	if doc.LogLevel != "warn" || !reflect.DeepEqual(doc.RegistryMirrors, want) {
		t.Errorf("daemon.json after --apply:\n%s\nwant log-level warn kept and registry-mirrors %q", raw, want)
	}
	checkBackup(t, filepath.Dir(path), filepath.Base(path), existingDaemonJSON)
	return raw
}

// checkBackup fails t unless dir holds, besides name, a file with the
// content name had before --apply: the backup the issue asks for.
func checkBackup(t *testing.T, dir, name, old string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Name() == name || !e.Type().IsRegular() {
			continue
		}
		names = append(names, e.Name())
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && string(b) == old {
			return
		}
	}
	t.Errorf("no backup of the old %s next to it (other files: %v)", name, names)
}

// dockerDaemon is an isolated dockerd and the environment its CLI needs.
type dockerDaemon struct {
	*engine
	// env points the docker CLI at this daemon, with a config directory
	// of its own.
	env []string
}

// startDockerd starts dockerd with all its state under dir, configured by
// conf, with no networking of its own (pulls need none), and waits until
// it answers /_ping. dockerd 20.10 creates /etc/docker/key.json and
// /opt/containerd whatever its flags: they are removed afterwards unless
// they were there before.
func startDockerd(t *testing.T, bin, dir, conf string) *dockerDaemon {
	t.Helper()
	watchLeftovers(t, "/etc/docker", "/etc/docker/key.json", "/opt/containerd")
	sock := filepath.Join(dir, "docker.sock")
	e := startEngine(t, "dockerd", isolatedEnv(t), bin,
		"--config-file", conf,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--host", "unix://"+sock,
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--iptables=false", "--bridge=none",
	)
	e.waitReady(t, func(ctx context.Context) error { return dockerPing(ctx, sock) })
	return &dockerDaemon{engine: e, env: isolatedEnv(t, "DOCKER_HOST=unix://"+sock)}
}

// dockerPing asks the daemon on sock for GET /_ping.
func dockerPing(ctx context.Context, sock string) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /_ping: %s", resp.Status)
	}
	return nil
}
