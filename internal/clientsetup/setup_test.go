package clientsetup

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

var regs = []string{"quay.io", "docker.io", "ghcr.io"}

// snippets is Snippets in English, failing the test on an error.
func snippets(t *testing.T, client, host string, opts ...Option) []Snippet {
	t.Helper()
	snips, err := Snippets(i18n.English, client, host, regs, opts...)
	if err != nil || len(snips) == 0 {
		t.Fatalf("%s for %s: %v", client, host, err)
	}
	return snips
}

// Every snippet has a title, a language and a note, and the ones that
// name the mirror name it at an address their client reaches.
func TestSnippetsAreComplete(t *testing.T) {
	for _, client := range Clients {
		for _, host := range []string{"127.0.0.1:5000", "mirror.lan:5001"} {
			for _, s := range snippets(t, client, host) {
				if s.Title == "" || s.Note == "" || !slices.Contains([]string{"json", "toml", "yaml", "sh"}, s.Lang) || s.Text == "" {
					t.Errorf("%s for %s: incomplete %+v", client, host, s)
				}
				if s.Client != client {
					t.Errorf("%s for %s: a snippet of %q", client, host, s.Client)
				}
			}
		}
	}
	if _, err := Snippets(i18n.English, "lxd", "h:1", regs); err == nil || !strings.Contains(err.Error(), "docker, containerd") {
		t.Errorf("unknown client: %v", err)
	}
}

func TestEngineFor(t *testing.T) {
	for goos, want := range map[string]Engine{"darwin": VMEngine, "windows": VMEngine, "linux": NativeEngine, "freebsd": NativeEngine} {
		if got := EngineFor(goos); got != want {
			t.Errorf("EngineFor(%q) = %v, want %v", goos, got, want)
		}
	}
}

// daemonConfig is what the snippets may put in daemon.json; decoding
// rejects any other key.
type daemonConfig struct {
	Mirrors  []string `json:"registry-mirrors"`
	Insecure []string `json:"insecure-registries"`
}

// parseDaemonJSON decodes text as exactly one daemon.json document, as
// dockerd reads it.
func parseDaemonJSON(t *testing.T, text string) daemonConfig {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var cfg daemonConfig
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("daemon.json is not JSON: %v\n%s", err, text)
	}
	if dec.More() {
		t.Fatalf("more than one document:\n%s", text)
	}
	return cfg
}

// dockerFor is the one daemon.json snippet for engine e.
func dockerFor(t *testing.T, snips []Snippet, e Engine) Snippet {
	t.Helper()
	var docs []Snippet
	for _, s := range ForEngine(snips, e) {
		if s.Lang == "json" {
			docs = append(docs, s)
		}
	}
	if len(docs) != 1 {
		t.Fatalf("engine %v: %d daemon.json snippets, want 1", e, len(docs))
	}
	return docs[0]
}

// The native engine gets the mirror's own address; an engine in a VM
// gets host.docker.internal for a mirror on this computer's loopback, and
// the same address as the native one for a mirror elsewhere. Plain http to
// anything but loopback needs "insecure-registries".
func TestDockerSnippet(t *testing.T) {
	for _, tc := range []struct {
		host       string
		opts       []Option
		native, vm daemonConfig
	}{
		{"127.0.0.1:5000", nil,
			daemonConfig{Mirrors: []string{"http://127.0.0.1:5000"}},
			daemonConfig{Mirrors: []string{"http://host.docker.internal:5000"}, Insecure: []string{"host.docker.internal:5000"}}},
		{"0.0.0.0:5001", nil,
			daemonConfig{Mirrors: []string{"http://127.0.0.1:5001"}},
			daemonConfig{Mirrors: []string{"http://host.docker.internal:5001"}, Insecure: []string{"host.docker.internal:5001"}}},
		{"[::]:5000", nil,
			daemonConfig{Mirrors: []string{"http://127.0.0.1:5000"}},
			daemonConfig{Mirrors: []string{"http://host.docker.internal:5000"}, Insecure: []string{"host.docker.internal:5000"}}},
		{"192.168.1.20:5000", nil,
			daemonConfig{Mirrors: []string{"http://192.168.1.20:5000"}, Insecure: []string{"192.168.1.20:5000"}},
			daemonConfig{Mirrors: []string{"http://192.168.1.20:5000"}, Insecure: []string{"192.168.1.20:5000"}}},
		{"mirror.lan:5000", []Option{HTTPS()},
			daemonConfig{Mirrors: []string{"https://mirror.lan:5000"}},
			daemonConfig{Mirrors: []string{"https://mirror.lan:5000"}}},
	} {
		snips := snippets(t, "docker", tc.host, tc.opts...)
		native, vm := dockerFor(t, snips, NativeEngine), dockerFor(t, snips, VMEngine)
		if got := parseDaemonJSON(t, native.Text); !slices.Equal(got.Mirrors, tc.native.Mirrors) || !slices.Equal(got.Insecure, tc.native.Insecure) {
			t.Errorf("%s native: %+v, want %+v", tc.host, got, tc.native)
		}
		if got := parseDaemonJSON(t, vm.Text); !slices.Equal(got.Mirrors, tc.vm.Mirrors) || !slices.Equal(got.Insecure, tc.vm.Insecure) {
			t.Errorf("%s VM: %+v, want %+v", tc.host, got, tc.vm)
		}
		if native.Path != "/etc/docker/daemon.json" || !strings.Contains(native.Note, "systemctl restart docker") {
			t.Errorf("%s native: path %q, note %q", tc.host, native.Path, native.Note)
		}
	}
}

// parseTOML decodes text as TOML into a generic map.
func parseTOML(t *testing.T, name, text string) map[string]any {
	t.Helper()
	var v map[string]any
	if _, err := toml.Decode(text, &v); err != nil {
		t.Fatalf("%s is not TOML: %v\n%s", name, err, text)
	}
	return v
}

// dig follows keys through nested tables of v.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// checkHostsTOML checks that text is a hosts.toml for registry r that
// pulls through the mirror at url, falling back to r's own endpoint.
func checkHostsTOML(t *testing.T, r, url, text string) {
	t.Helper()
	v := parseTOML(t, r+"/hosts.toml", text)
	if v["server"] != upstream(r) {
		t.Errorf("%s: server %v, want %s", r, v["server"], upstream(r))
	}
	caps, _ := dig(v, "host", url, "capabilities").([]any)
	if len(caps) != 2 || caps[0] != "pull" || caps[1] != "resolve" {
		t.Errorf("%s: no [host.%q] that pulls and resolves:\n%s", r, url, text)
	}
}

// containerd gets a hosts.toml per registry, the config_path lines for
// 1.x and 2.x in their own tables, and ctr's --hosts-dir.
func TestContainerdSnippets(t *testing.T) {
	snips := snippets(t, "containerd", "127.0.0.1:5000")
	if len(snips) != len(regs)+3 || !strings.HasSuffix(snips[0].Path, "/docker.io/hosts.toml") {
		t.Fatalf("%+v", snips)
	}
	for i, r := range []string{"docker.io", "ghcr.io", "quay.io"} {
		if snips[i].Path != "/etc/containerd/certs.d/"+r+"/hosts.toml" {
			t.Errorf("snippet %d: path %q", i, snips[i].Path)
		}
		checkHostsTOML(t, r, "http://127.0.0.1:5000", snips[i].Text)
	}
	v1, v2, ctr := snips[3], snips[4], snips[5]
	if got := dig(parseTOML(t, "1.x config", v1.Text), "plugins", "io.containerd.grpc.v1.cri", "registry", "config_path"); got != certsDir {
		t.Errorf("1.x config_path %v:\n%s", got, v1.Text)
	}
	if got := dig(parseTOML(t, "2.x config", v2.Text), "plugins", "io.containerd.cri.v1.images", "registry", "config_path"); got != certsDir {
		t.Errorf("2.x config_path %v:\n%s", got, v2.Text)
	}
	if !strings.Contains(v1.Note, "1.x ignores /etc/containerd/certs.d until config_path is set") ||
		!strings.Contains(v2.Note, "2.x reads /etc/containerd/certs.d by default") || !strings.Contains(v2.Note, `"io.containerd.cri.v1.images"`) {
		t.Errorf("config notes:\n%s\n%s", v1.Note, v2.Note)
	}
	if !strings.Contains(ctr.Text, "ctr images pull --hosts-dir /etc/containerd/certs.d ") || !strings.Contains(ctr.Note, "--hosts-dir /etc/containerd/certs.d") {
		t.Errorf("ctr: %s\n%s", ctr.Text, ctr.Note)
	}
	for _, s := range snips {
		if strings.Contains(s.Text, "mirrors") {
			t.Errorf("%s uses the deprecated registry.mirrors:\n%s", s.Title, s.Text)
		}
	}
}

// registriesConf is the part of registries.conf the podman snippet writes.
type registriesConf struct {
	Registry []struct {
		Prefix, Location string
		Insecure         bool
		Mirror           []struct {
			Location string
			Insecure bool
		}
	}
}

// podman tries the mirror first for each registry, by path prefix for
// the ones other than Docker Hub, and over plain http marks the mirror's
// own address insecure, so that names that include it pull as they are.
func TestPodmanSnippet(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"http", nil}, {"https", []Option{HTTPS()}}} {
		snips := snippets(t, "podman", "127.0.0.1:5000", tc.opts...)
		var conf registriesConf
		if md, err := toml.Decode(snips[0].Text, &conf); err != nil || len(md.Undecoded()) > 0 {
			t.Fatalf("%s: registries.conf: %v, unknown keys %v\n%s", tc.name, err, md.Undecoded(), snips[0].Text)
		}
		mirrors := map[string]string{}
		ownInsecure := false
		for _, r := range conf.Registry {
			if r.Location == "127.0.0.1:5000" && r.Prefix == "" {
				ownInsecure = r.Insecure
				continue
			}
			if r.Prefix != r.Location || len(r.Mirror) != 1 || r.Mirror[0].Insecure != (tc.name == "http") {
				t.Errorf("%s: entry %+v", tc.name, r)
				continue
			}
			mirrors[r.Prefix] = r.Mirror[0].Location
		}
		want := map[string]string{"docker.io": "127.0.0.1:5000", "ghcr.io": "127.0.0.1:5000/ghcr.io", "quay.io": "127.0.0.1:5000/quay.io"}
		if len(mirrors) != len(want) {
			t.Errorf("%s: mirrors %v, want %v", tc.name, mirrors, want)
		}
		for r, m := range want {
			if mirrors[r] != m {
				t.Errorf("%s: %s goes to %q, want %q", tc.name, r, mirrors[r], m)
			}
		}
		if ownInsecure != (tc.name == "http") {
			t.Errorf("%s: the mirror's own address insecure = %v:\n%s", tc.name, ownInsecure, snips[0].Text)
		}
	}
}

// kindPatch is the TOML of the kind config's containerdConfigPatches
// entry (a YAML block scalar indented by four spaces).
func kindPatch(t *testing.T, yaml string) string {
	t.Helper()
	_, block, ok := strings.Cut(yaml, "containerdConfigPatches:\n  - |-\n")
	if !ok {
		t.Fatalf("no containerdConfigPatches:\n%s", yaml)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
		text, ok := strings.CutPrefix(line, "    ")
		if !ok {
			t.Fatalf("a line outside the patch: %q", line)
		}
		b.WriteString(text + "\n")
	}
	return b.String()
}

// kind's config turns on config_path (kind's way, not the deprecated
// registry.mirrors that containerd 2.x rejects), and no kind snippet
// names 127.0.0.1, which each node has for itself.
func TestKindConfig(t *testing.T) {
	for _, host := range []string{"127.0.0.1:5000", "0.0.0.0:5000", "mirror.lan:5001"} {
		snips := snippets(t, "kind", host)
		yaml := snips[0]
		if yaml.Path != "kind-config.yaml" || yaml.Lang != "yaml" || !strings.HasPrefix(yaml.Text, "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n") {
			t.Fatalf("%s: %+v", host, yaml)
		}
		patch := parseTOML(t, "the kind patch", kindPatch(t, yaml.Text))
		if got := dig(patch, "plugins", "io.containerd.grpc.v1.cri", "registry", "config_path"); got != certsDir {
			t.Errorf("%s: config_path %v:\n%s", host, got, yaml.Text)
		}
		for _, s := range snips {
			if strings.Contains(s.Text, "mirrors") || strings.Contains(s.Text, "127.0.0.1") {
				t.Errorf("%s: %s names registry.mirrors or 127.0.0.1:\n%s", host, s.Title, s.Text)
			}
		}
	}
}

// The kind scripts point every node at an address it reaches: the kind
// network's gateway for the native engine, host.docker.internal on Docker
// Desktop, a LAN address as it is; and their notes say so, and what the
// mirror must listen on.
func TestKindNodeScripts(t *testing.T) {
	native := snippets(t, "kind", "127.0.0.1:5000")
	if len(native) != 3 || native[1].Engine != NativeEngine || native[2].Engine != VMEngine {
		t.Fatalf("%+v", native)
	}
	if n := native[1].Note; !strings.Contains(n, `Docker network "kind"`) || !strings.Contains(n, "0.0.0.0:5000") || !strings.Contains(n, "127.0.0.1") {
		t.Errorf("the Linux note does not say which address and listen setting: %s", n)
	}
	if n := native[2].Note; !strings.Contains(n, "host.docker.internal") {
		t.Errorf("the Docker Desktop note does not name host.docker.internal: %s", n)
	}
	lan := snippets(t, "kind", "mirror.lan:5001")
	if len(lan) != 2 || lan[1].Engine != AnyEngine || !strings.Contains(lan[1].Note, "mirror.lan:5001") {
		t.Fatalf("%+v", lan)
	}
	for _, tc := range []struct {
		name, script, url string
	}{
		{"native", native[1].Text, "http://172.18.0.1:5000"},
		{"Docker Desktop", native[2].Text, "http://host.docker.internal:5000"},
		{"LAN", lan[1].Text, "http://mirror.lan:5001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := runKindScript(t, tc.script)
			for _, node := range []string{"kind-control-plane", "kind-worker"} {
				for _, r := range []string{"docker.io", "ghcr.io", "quay.io"} {
					text, err := os.ReadFile(filepath.Join(nodes, node, certsDir, r, "hosts.toml"))
					if err != nil {
						t.Fatal(err)
					}
					checkHostsTOML(t, r, tc.url, string(text))
				}
			}
		})
	}
}

// runKindScript runs a kind node script with stand-ins for kind (two
// nodes) and docker (a "kind" network with an IPv6 and an IPv4 gateway;
// exec runs the command with each node's / under the directory it
// returns).
func runKindScript(t *testing.T, script string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	bin, nodes := t.TempDir(), t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!"+sh+"\n"+text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("kind", `[ "$*" = "get nodes" ] && printf 'kind-control-plane\nkind-worker\n'`+"\n")
	write("docker", `case "$1 $2 $3" in
"network inspect kind") printf '\nfc00:f853:ccd:e793::1\n172.18.0.1\n' ;;
"exec -i "*) [ "$4 $5" = "sh -c" ] || exit 2
  root="$NODES/$3"; exec sh -c "$(printf '%s' "$6" | sed "s#/etc/#$root/etc/#g")" ;;
*) exit 2 ;;
esac
`)
	cmd := exec.Command(sh, "-eu")
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "NODES="+nodes)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the script failed: %v\n%s\n%s", err, out.String(), script)
	}
	return nodes
}

// With TLS on, every snippet uses https:// and no "insecure" setting; with
// the local CA, docker, containerd, podman and k3s are told where their
// client keeps it, and the fingerprint to check, and kind's nodes get it
// mounted and named in their hosts.toml files.
func TestSnippetsWithTLS(t *testing.T) {
	const h, fp = "mirror.lan:5000", "AB:CD:EF"
	for _, tc := range []struct {
		name string
		opts []Option
		ca   bool
	}{
		{"local CA", []Option{LocalCA(fp)}, true},
		{"own certificate", []Option{HTTPS()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusts := map[string]string{}
			for _, client := range Clients {
				for _, s := range snippets(t, client, h, tc.opts...) {
					if strings.Contains(s.Text, "http://") && !strings.Contains(s.Text, "/ca.crt") ||
						strings.Contains(s.Text, "insecure") || strings.Contains(s.Text, "tls-verify=false") {
						t.Errorf("%s/%s is not https only:\n%s", client, s.Title, s.Text)
					}
					if strings.Contains(s.Title, "trust the mirror's CA") {
						trusts[client] = s.Path
						if !strings.Contains(s.Text, "http://"+h+"/ca.crt") || !strings.Contains(s.Text, fp) {
							t.Errorf("%s: the trust snippet lacks the download or the fingerprint:\n%s", client, s.Text)
						}
					}
				}
			}
			want := map[string]string{
				"docker":     "/etc/docker/certs.d/" + h + "/ca.crt",
				"containerd": containerdCA,
				"podman":     "/etc/containers/certs.d/" + h + "/ca.crt",
				"k3s":        k3sCA,
			}
			if !tc.ca {
				want = map[string]string{}
			}
			if len(trusts) != len(want) {
				t.Errorf("trust snippets %v, want %v", trusts, want)
			}
			for c, p := range want {
				if trusts[c] != p {
					t.Errorf("%s keeps the CA at %q, want %q", c, trusts[c], p)
				}
			}
		})
	}
	docker := snippets(t, "docker", h, LocalCA(fp))
	if cfg := parseDaemonJSON(t, dockerFor(t, docker, NativeEngine).Text); len(cfg.Mirrors) != 1 || cfg.Mirrors[0] != "https://"+h {
		t.Errorf("daemon.json: %+v", cfg)
	}
	ctd := snippets(t, "containerd", h, LocalCA(fp))
	if !strings.Contains(ctd[1].Text, `[host."https://`+h+`"]`) || !strings.Contains(ctd[1].Text, `ca = "`+containerdCA+`"`) {
		t.Errorf("hosts.toml:\n%s", ctd[1].Text)
	}
	kind := snippets(t, "kind", h, LocalCA(fp))
	if !strings.Contains(kind[0].Text, "containerPath: "+kindCA) {
		t.Errorf("kind config does not mount the CA:\n%s", kind[0].Text)
	}
	nodes := runKindScript(t, kind[1].Text)
	text, err := os.ReadFile(filepath.Join(nodes, "kind-worker", certsDir, "ghcr.io", "hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := dig(parseTOML(t, "kind hosts.toml", string(text)), "host", "https://"+h, "ca"); got != kindCA {
		t.Errorf("kind hosts.toml ca %v:\n%s", got, text)
	}
	pull := snippets(t, "pull", h, LocalCA(fp))
	if !strings.Contains(pull[0].Text, "SSL_CERT_FILE="+CAFile+" crane pull "+h) {
		t.Errorf("pull:\n%s", pull[0].Text)
	}
}
