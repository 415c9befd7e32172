//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// existingRegistriesConf is a registries.conf a user already has, which
// `setup podman --apply` must keep. Its one search registry lets podman
// resolve short names without asking (there is no terminal to ask on).
const existingRegistriesConf = `unqualified-search-registries = ["docker.io"]
`

// TestPodmanPullsThroughSetupApply: with the registries.conf `setup
// podman --apply --file` merged, podman pulls a short name through the
// mirror as Docker Hub's mirror, and a name that includes the mirror's
// address over plain HTTP with no --tls-verify=false; after `podman rmi`
// each pulls again with no blob GET upstream.
func TestPodmanPullsThroughSetupApply(t *testing.T) {
	needRoot(t)
	bin := toolPodman.path(t)
	testContainersPulls(t, containersTool{
		name: "podman",
		bin:  bin,
		global: func(dir string) []string {
			return []string{
				"--root", filepath.Join(dir, "root"),
				"--runroot", filepath.Join(dir, "runroot"),
				"--tmpdir", filepath.Join(dir, "tmp"),
				"--storage-driver", "vfs",
				"--cgroup-manager", "cgroupfs",
				"--events-backend", "file",
				// Else podman creates /etc/cni/net.d.
				"--network-config-dir", filepath.Join(dir, "net"),
			}
		},
	})
}

// TestBuildahPullsThroughSetupApply is TestPodmanPullsThroughSetupApply
// for buildah, which reads the same registries.conf.
func TestBuildahPullsThroughSetupApply(t *testing.T) {
	needRoot(t)
	bin := toolBuildah.path(t)
	testContainersPulls(t, containersTool{
		name: "buildah",
		bin:  bin,
		global: func(dir string) []string {
			return []string{
				"--root", filepath.Join(dir, "root"),
				"--runroot", filepath.Join(dir, "runroot"),
				"--storage-driver", "vfs",
				"--short-name-alias-conf", filepath.Join(dir, "short-name-aliases.conf"),
			}
		},
	})
}

// containersTool is podman or buildah: both pull with containers/image
// and read registries.conf, and share pull and rmi.
type containersTool struct {
	name string
	bin  string
	// global returns the options that keep the tool's storage and
	// temporary files in dir.
	global func(dir string) []string
}

// testContainersPulls is the podman and buildah test: apply, pull a short
// name and a name with the mirror's address, remove, pull again, undo.
func testContainersPulls(t *testing.T, tl containersTool) {
	t.Helper()
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	short := engineImage(hub, "library/hmshort", "1")
	byAddr := engineImage(hub, "library/hmaddr", "1")
	m := startMirror(t, hub.URL())

	// containers/image keeps root's caches under /var whatever the
	// storage options: the blob info cache and, for podman, which has no
	// option for it, the short-name alias cache's lock. /etc/cni is where
	// podman would put its network files without --network-config-dir.
	watchLeftovers(t, "/var/lib/containers", "/var/cache/containers", "/etc/cni")
	dir := engineDir(t, "hm-"+tl.name+"-")
	for _, sub := range []string{"tmp", "net"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	regConf := filepath.Join(dir, "registries.conf")
	files := map[string]string{
		regConf: existingRegistriesConf,
		// The credentials file must exist; an empty one sends none.
		filepath.Join(dir, "auth.json"): "{}\n",
		// Accept unsigned images without reading /etc/containers.
		filepath.Join(dir, "policy.json"): `{"default":[{"type":"insecureAcceptAnything"}]}` + "\n",
		// Every storage setting given, so /etc/containers/storage.conf
		// counts for nothing.
		filepath.Join(dir, "storage.conf"): fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n",
			filepath.Join(dir, "root"), filepath.Join(dir, "runroot")),
		// The only containers.conf read, so the system's counts for
		// nothing either.
		filepath.Join(dir, "containers.conf"): fmt.Sprintf("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = %q\n\n[network]\nnetwork_config_dir = %q\n",
			filepath.Join(dir, "tmp"), filepath.Join(dir, "net")),
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	applySetup(t, m, "podman", "--apply", "--file", regConf)
	checkRegistriesConf(t, regConf, m.Addr)

	env := isolatedEnv(t,
		"CONTAINERS_REGISTRIES_CONF="+regConf,
		"REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
	)
	run := func(args ...string) string {
		t.Helper()
		return string(mustRun(t, env, tl.bin, append(tl.global(dir), args...)...))
	}
	pull := func(ref string, img fakehub.Image) {
		t.Helper()
		out := run("pull", "--quiet", "--signature-policy", filepath.Join(dir, "policy.json"), ref)
		lines := strings.Fields(out)
		id := strings.TrimPrefix(img.Config.Digest, "sha256:")
		if len(lines) == 0 || lines[len(lines)-1] != id {
			t.Errorf("%s pull %s printed %q, want the hub's image id %s", tl.name, ref, out, id)
		}
	}
	for _, tc := range []struct {
		what, ref string
		img       fakehub.Image
	}{
		{"a short name", "hmshort:1", short},
		{"a name with the mirror's address", m.Addr + "/library/hmaddr:1", byAddr},
	} {
		who := tl.name + " pull of " + tc.what
		before := snapshot(t, hub, m)
		pull(tc.ref, tc.img)
		checkColdPull(t, who, before, snapshot(t, hub, m), tc.img)
		run("rmi", tc.ref)
		if images := run("images", "--quiet"); strings.TrimSpace(images) != "" {
			t.Fatalf("%s rmi %s left images:\n%s", tl.name, tc.ref, images)
		}
		before = snapshot(t, hub, m)
		pull(tc.ref, tc.img)
		checkWarmPull(t, who+" again", before, snapshot(t, hub, m), tc.img)
		run("rmi", tc.ref)
	}

	applySetup(t, m, "podman", "--undo", "--file", regConf)
	var got, want map[string]any
	if _, err := toml.DecodeFile(regConf, &got); err != nil {
		t.Fatalf("registries.conf after --undo: %v", err)
	}
	if _, err := toml.Decode(existingRegistriesConf, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		raw, _ := os.ReadFile(regConf)
		t.Errorf("--undo left\n%s\nwant what was there before\n%s", raw, existingRegistriesConf)
	}
}

// registriesConf is the part of registries.conf the tests read.
type registriesConf struct {
	UnqualifiedSearchRegistries []string `toml:"unqualified-search-registries"`
	Registry                    []struct {
		Prefix   string
		Location string
		Insecure bool
		Mirror   []struct {
			Location string
			Insecure bool
		}
	}
}

// checkRegistriesConf fails t unless the registries.conf at path keeps
// the existing search registries, marks the mirror's own address insecure
// and gives docker.io the mirror.
func checkRegistriesConf(t *testing.T, path, addr string) {
	t.Helper()
	var rc registriesConf
	if _, err := toml.DecodeFile(path, &rc); err != nil {
		t.Fatalf("registries.conf after --apply: %v", err)
	}
	raw, _ := os.ReadFile(path)
	if !slices.Equal(rc.UnqualifiedSearchRegistries, []string{"docker.io"}) {
		t.Errorf("--apply lost unqualified-search-registries:\n%s", raw)
	}
	ownAddr, hubMirror := false, false
	for _, r := range rc.Registry {
		if r.Location == addr && r.Insecure {
			ownAddr = true
		}
		if r.Prefix == "docker.io" || (r.Prefix == "" && r.Location == "docker.io") {
			for _, mr := range r.Mirror {
				hubMirror = hubMirror || mr.Location == addr
			}
		}
	}
	if !ownAddr || !hubMirror {
		t.Errorf("registries.conf after --apply: the mirror's address %s insecure: %v, a docker.io mirror: %v\n%s", addr, ownAddr, hubMirror, raw)
	}
}
