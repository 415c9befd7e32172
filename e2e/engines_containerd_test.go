//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// TestContainerdCtrPullsThroughSetupApply: with the hosts.toml files
// `setup containerd --apply --dir` wrote, `ctr images pull --hosts-dir`
// pulls a Docker Hub image through the mirror; a containerd with a fresh
// root pulls it again with no blob GET upstream. `--undo` removes the
// files.
func TestContainerdCtrPullsThroughSetupApply(t *testing.T) {
	needRoot(t)
	bin := toolContainerd.path(t)
	ctr := toolCtr.path(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := engineImage(hub, "library/hmctr", "1")
	m := startMirror(t, hub.URL())
	cd := newContainerd(t, bin)
	cd.apply(t, m)

	ref := "docker.io/library/hmctr:1"
	pull := func() {
		t.Helper()
		mustRun(t, cd.env, ctr, "--address", cd.sock, "images", "pull", "--hosts-dir", cd.certs, ref)
		out := mustRun(t, cd.env, ctr, "--address", cd.sock, "images", "ls", "name=="+ref)
		if !strings.Contains(string(out), img.Digest) {
			t.Errorf("ctr images ls does not show %s at the hub's %s:\n%s", ref, img.Digest, out)
		}
	}
	cd.start(t)
	before := snapshot(t, hub, m)
	pull()
	checkColdPull(t, "ctr pull", before, snapshot(t, hub, m), img)

	// ctr content rm keeps what an image still references: a fresh root
	// is what forgets every blob.
	cd.restartFresh(t)
	before = snapshot(t, hub, m)
	pull()
	checkWarmPull(t, "ctr re-pull", before, snapshot(t, hub, m), img)
	cd.undo(t, m)
}

// TestContainerdCRIPullsThroughSetupApply: containerd's CRI plugin reads
// config_path itself, as under kubelet, k3s and kind; a CRI PullImage of a
// Docker Hub image goes through the mirror, and a containerd with a fresh
// root pulls it again with no blob GET upstream.
func TestContainerdCRIPullsThroughSetupApply(t *testing.T) {
	needRoot(t)
	bin := toolContainerd.path(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := engineImage(hub, "library/hmcri", "1")
	m := startMirror(t, hub.URL())
	cd := newContainerd(t, bin)
	cd.apply(t, m)

	ref := "docker.io/library/hmcri:1"
	pull := func() {
		t.Helper()
		cri := cd.cri(t)
		ctx, cancel := context.WithTimeout(context.Background(), pullTimeout)
		defer cancel()
		id, err := cri.pull(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if id != img.Config.Digest {
			t.Errorf("CRI PullImage returned image %s, want the hub's %s", id, img.Config.Digest)
		}
		if id, err := cri.imageID(ctx, ref); err != nil || id != img.Config.Digest {
			t.Errorf("CRI ImageStatus %s: image %q, %v; want %s", ref, id, err, img.Config.Digest)
		}
	}
	cd.start(t)
	before := snapshot(t, hub, m)
	pull()
	checkColdPull(t, "CRI pull", before, snapshot(t, hub, m), img)

	cd.restartFresh(t)
	before = snapshot(t, hub, m)
	pull()
	checkWarmPull(t, "CRI re-pull", before, snapshot(t, hub, m), img)
}

// criRegistryTable is the table of containerd 1.x's config.toml that
// holds config_path.
const criRegistryTable = `[plugins."io.containerd.grpc.v1.cri".registry]`

// containerdDaemon is an isolated containerd 1.x whose registry hosts come
// from certs, the directory `setup containerd --apply` writes.
type containerdDaemon struct {
	bin string
	// dir holds everything: the config files, roots, states and sockets.
	dir string
	// certs is the hosts directory, config_path in the CRI plugin's table.
	certs string
	// config is the config.toml of the running generation.
	config string
	// sock is the gRPC socket of the running generation.
	sock string
	// env is the environment containerd runs in, with its own HOME.
	env []string
	// gen counts the generations: each restart gets a new root.
	gen int
	// eng is the running generation.
	eng *engine
}

// newContainerd prepares a containerd in a fresh directory and writes the
// config.toml of its first generation, so that `setup containerd --apply`
// can read it; start starts it.
func newContainerd(t *testing.T, bin string) *containerdDaemon {
	t.Helper()
	dir := engineDir(t, "hm-containerd-")
	cd := &containerdDaemon{bin: bin, dir: dir, certs: filepath.Join(dir, "certs.d"), env: isolatedEnv(t)}
	watchLeftovers(t, "/opt/containerd")
	cd.nextConfig(t)
	return cd
}

// nextConfig writes the config.toml of a new generation: its own root,
// state and sockets, the same hosts directory.
func (cd *containerdDaemon) nextConfig(t *testing.T) {
	t.Helper()
	cd.gen++
	g := filepath.Join(cd.dir, fmt.Sprint(cd.gen))
	for _, sub := range []string{"root", "state", "cni", "opt"} {
		if err := os.MkdirAll(filepath.Join(g, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cd.sock = filepath.Join(g, "c.sock")
	cd.config = filepath.Join(g, "config.toml")
	conf := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = %[5]q

[plugins."io.containerd.grpc.v1.cri".cni]
  conf_dir = %[6]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[7]q
`, filepath.Join(g, "root"), filepath.Join(g, "state"), cd.sock, cd.sock+".ttrpc", cd.certs,
		filepath.Join(g, "cni"), filepath.Join(g, "opt"))
	if err := os.WriteFile(cd.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
}

// apply runs `setup containerd --apply` for the hosts directory and the
// current config.toml and checks that it wrote docker.io's hosts.toml and
// did not ask for the config_path table the config already has.
func (cd *containerdDaemon) apply(t *testing.T, m *mirror) {
	t.Helper()
	out := applySetup(t, m, "containerd", "--apply", "--dir", cd.certs, "--containerd-config", cd.config)
	if strings.Contains(out, criRegistryTable) {
		t.Errorf("setup containerd --apply asks for %s, which %s has:\n%s", criRegistryTable, cd.config, out)
	}
	hosts, err := os.ReadFile(filepath.Join(cd.certs, "docker.io", "hosts.toml"))
	if err != nil {
		t.Fatalf("setup containerd --apply wrote no hosts.toml for docker.io: %v", err)
	}
	if !strings.Contains(string(hosts), m.Addr) {
		t.Errorf("docker.io/hosts.toml does not name the mirror %s:\n%s", m.Addr, hosts)
	}
}

// undo runs `setup containerd --undo` and checks that docker.io's
// hosts.toml is gone.
func (cd *containerdDaemon) undo(t *testing.T, m *mirror) {
	t.Helper()
	applySetup(t, m, "containerd", "--undo", "--dir", cd.certs, "--containerd-config", cd.config)
	p := filepath.Join(cd.certs, "docker.io", "hosts.toml")
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after --undo %s is still there (%v)", p, err)
	}
}

// start starts the current generation and waits until it answers on its
// socket.
func (cd *containerdDaemon) start(t *testing.T) {
	t.Helper()
	cd.eng = startEngine(t, fmt.Sprintf("containerd (generation %d)", cd.gen), cd.env, cd.bin, "--config", cd.config)
	cd.eng.waitReady(t, func(ctx context.Context) error { return dialUnix(ctx, cd.sock) })
}

// restartFresh stops containerd and starts a new generation with an empty
// root, which holds none of the images or blobs the old one pulled.
func (cd *containerdDaemon) restartFresh(t *testing.T) {
	t.Helper()
	cd.eng.stop(t)
	cd.nextConfig(t)
	cd.start(t)
}

// cri returns a CRI client of the running generation, closed when t ends,
// after waiting until the CRI plugin answers.
func (cd *containerdDaemon) cri(t *testing.T) *criClient {
	t.Helper()
	c, err := dialCRI(cd.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cd.eng.waitReady(t, c.ready)
	return c
}
