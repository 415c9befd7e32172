// Package setup writes the configuration that points each container client
// at a mirror: Docker's daemon.json, containerd's hosts.toml and the
// config_path that makes containerd read them, podman's and skopeo's
// registries.conf, k3s's registries.yaml, kind's cluster config and the
// script that points kind's nodes at the mirror, and pull examples. The
// landing page, `hubmirror setup` and the desktop app all show these same
// snippets, with titles and notes in the reader's language.
package clientsetup

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// Snippet is one file (or command) for one client.
type Snippet struct {
	Client string // "docker", "containerd", …
	Title  string // what it is for, in the language Snippets was asked for
	Path   string // where the file goes; "" for commands
	Lang   string // "json", "toml", "yaml", "sh"
	Text   string // the configuration itself; never translated
	Note   string // what to do with it, in the language Snippets was asked for
	// Engine is the kind of Docker engine the snippet is for, where that
	// matters (Docker's daemon.json, kind's nodes); AnyEngine elsewhere.
	Engine Engine
}

// Engine is where a Docker engine runs, which decides how it reaches a
// mirror on this computer.
type Engine int

// The engines snippets tell apart.
const (
	// AnyEngine marks a snippet that is right whatever the engine.
	AnyEngine Engine = iota
	// NativeEngine is Docker Engine running on this computer (Linux).
	NativeEngine
	// VMEngine is an engine in a VM: Docker Desktop, Colima, Rancher
	// Desktop. Inside it, this computer is host.docker.internal.
	VMEngine
)

// EngineFor is the engine Docker users on goos (runtime.GOOS) usually
// have: a VM on macOS and Windows, the native engine elsewhere.
func EngineFor(goos string) Engine {
	switch goos {
	case "darwin", "windows":
		return VMEngine
	}
	return NativeEngine
}

// ForEngine keeps the snippets that suit engine e: those for any engine
// and those for e, in their order.
func ForEngine(snips []Snippet, e Engine) []Snippet {
	var out []Snippet
	for _, s := range snips {
		if s.Engine == AnyEngine || s.Engine == e {
			out = append(out, s)
		}
	}
	return out
}

// Clients are the clients Snippets knows, in the order pages show them.
var Clients = []string{"docker", "containerd", "podman", "k3s", "kind", "pull"}

// upstreamEndpoints are the real endpoints containerd falls back to where
// they differ from https://REGISTRY.
var upstreamEndpoints = map[string]string{
	"docker.io": "https://registry-1.docker.io",
}

// upstream is the endpoint containerd pulls registry r from when the
// mirror cannot answer.
func upstream(r string) string {
	if s := upstreamEndpoints[r]; s != "" {
		return s
	}
	return "https://" + r
}

// Option changes what Snippets write.
type Option func(*options)

type options struct {
	https       bool   // the mirror serves TLS
	ca          bool   // with its own local CA, at /ca.crt
	fingerprint string // the CA certificate's SHA-256 fingerprint
}

// HTTPS says the mirror serves TLS with a certificate clients already
// trust: the snippets use https:// and no "insecure" settings.
func HTTPS() Option { return func(o *options) { o.https = true } }

// LocalCA says the mirror serves TLS with its own CA (tls auto), whose
// certificate clients download from /ca.crt and check against fingerprint
// (SHA-256, as openssl prints it): the snippets use https:// and say where
// each client keeps the CA.
func LocalCA(fingerprint string) Option {
	return func(o *options) { o.https, o.ca, o.fingerprint = true, true, fingerprint }
}

// writer holds what every snippet of one Snippets call depends on, so
// that each client's function takes only what is its own.
type writer struct {
	l    i18n.Lang // the language of titles and notes
	h    string    // the mirror's address as clients on this computer dial it
	regs []string  // the mirrored registries, Docker Hub first
	options
}

// Snippets returns the set-up of client for a mirror reached at host
// (host:port, as the client will dial it) that mirrors registries, with
// titles and notes in l.
func Snippets(l i18n.Lang, client, host string, registries []string, opts ...Option) ([]Snippet, error) {
	w := writer{l: l, h: ClientHost(host), regs: slices.Clone(registries)}
	for _, opt := range opts {
		opt(&w.options)
	}
	slices.Sort(w.regs)
	if i := slices.Index(w.regs, "docker.io"); i > 0 { // Docker Hub first
		w.regs = append([]string{"docker.io"}, slices.Delete(w.regs, i, i+1)...)
	}
	switch client {
	case "docker":
		return w.docker(), nil
	case "containerd":
		return w.containerd(), nil
	case "podman":
		return w.podman(), nil
	case "k3s":
		return w.k3s(), nil
	case "kind":
		return w.kind(), nil
	case "pull":
		return []Snippet{w.pull()}, nil
	}
	return nil, errors.New(l.F("unknown client %q: choose one of %s", client, strings.Join(Clients, ", ")))
}

// ClientHost turns a listen address into one a client on this machine can
// dial: an unspecified host (0.0.0.0, ::, "") becomes 127.0.0.1.
func ClientHost(host string) string {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		return host
	}
	if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, port)
}

// loopback reports whether clients reach host without leaving the machine,
// where Docker allows plain http without "insecure-registries" and where
// containers and VMs cannot reach it by that address.
func loopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}

// port is host's port, or 5000 (the default listen port) when host has
// none.
func port(host string) string {
	if _, p, err := net.SplitHostPort(host); err == nil {
		return p
	}
	return "5000"
}

// scheme is the URL scheme clients use for the mirror.
func (o options) scheme() string {
	if o.https {
		return "https"
	}
	return "http"
}

// CAFile is the name the snippets save the mirror's CA certificate under.
const CAFile = "hubmirror-ca.crt"

// trust is a snippet that installs the mirror's CA at path for a client:
// download it from the mirror, check its fingerprint, copy it into place.
// note is already translated.
func (w writer) trust(client, title, path, note string) Snippet {
	dir := path[:strings.LastIndex(path, "/")]
	text := fmt.Sprintf("curl -fsSo %[1]s http://%[2]s/ca.crt\n"+
		"openssl x509 -noout -fingerprint -sha256 -in %[1]s   # %[3]s\n"+
		"sudo mkdir -p %[4]s && sudo cp %[1]s %[5]s\n", CAFile, w.h, w.l.F("must print %s", w.fingerprint), dir, path)
	return Snippet{Client: client, Title: title, Path: path, Lang: "sh", Text: text,
		Note: note + " " + w.l.F("Or copy it from the mirror's machine: hubmirror setup ca > %s.", CAFile)}
}

// daemonJSON is a daemon.json with the mirror at addr, allowing plain
// http to it when insecure.
func daemonJSON(scheme, addr string, insecure bool) string {
	if insecure {
		return fmt.Sprintf("{\n  \"registry-mirrors\": [\"%s://%s\"],\n  \"insecure-registries\": [\"%s\"]\n}\n", scheme, addr, addr)
	}
	return fmt.Sprintf("{\n  \"registry-mirrors\": [\"%s://%s\"]\n}\n", scheme, addr)
}

// docker is daemon.json for the native engine and for an engine in a VM,
// preceded by how Docker trusts the local CA when there is one. In a VM a
// mirror on this computer's loopback is host.docker.internal; a mirror
// elsewhere has the same address for both.
func (w writer) docker() []Snippet {
	l := w.l
	native := daemonJSON(w.scheme(), w.h, !loopback(w.h) && !w.https)
	vm, vmNote := w.h, l.T("Add these keys in Settings → Docker Engine, keeping the others, then Apply & restart.")
	if loopback(w.h) {
		vm = "host.docker.internal:" + port(w.h)
		vmNote = l.T("Inside the VM, host.docker.internal is this computer.") + " " + vmNote
	}
	desktop := daemonJSON(w.scheme(), vm, !w.https)
	if w.ca {
		vmNote += " " + l.F("Save the mirror's CA as ~/.docker/certs.d/%s/ca.crt first (download it from http://%s/ca.crt).", vm, w.h)
	}
	var out []Snippet
	if w.ca {
		out = append(out, w.trust("docker", l.T("Docker Engine: trust the mirror's CA"), "/etc/docker/certs.d/"+w.h+"/ca.crt",
			l.T("Docker reads the CA of a registry or mirror at HOST:PORT from /etc/docker/certs.d/HOST:PORT/ca.crt, with no restart.")))
	}
	return append(out,
		Snippet{Client: "docker", Title: l.T("Docker Engine on Linux"), Path: "/etc/docker/daemon.json", Lang: "json", Text: native,
			Note:   l.T("Save it as /etc/docker/daemon.json (if the file exists, add these keys to it), then restart Docker: sudo systemctl restart docker. Docker uses a mirror for Docker Hub images only."),
			Engine: NativeEngine},
		Snippet{Client: "docker", Title: l.T("Docker Desktop, Colima, Rancher Desktop (the engine runs in a VM)"),
			Path: "Settings → Docker Engine", Lang: "json", Text: desktop, Note: vmNote, Engine: VMEngine})
}

// certsDir is where containerd, and the snippets, keep hosts.toml files.
const certsDir = "/etc/containerd/certs.d"

// containerdCA is where the containerd snippets keep the mirror's CA.
const containerdCA = "/etc/containerd/" + CAFile

// hostsTOML is registry r's hosts.toml: pull and resolve through the
// mirror at addr, falling back to r itself; with ca, the mirror's CA is
// read from caPath.
func (w writer) hostsTOML(r, addr, caPath string) string {
	text := fmt.Sprintf("server = %q\n\n[host.\"%s://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", upstream(r), w.scheme(), addr)
	if w.ca {
		text += fmt.Sprintf("  ca = %q\n", caPath)
	}
	return text
}

// containerd is a hosts.toml per registry, then the config.toml lines
// without which containerd 1.x never reads them (and the 2.x equivalent),
// then how ctr, which reads no config_path, is pointed at them.
func (w writer) containerd() []Snippet {
	l := w.l
	var out []Snippet
	if w.ca {
		out = append(out, w.trust("containerd", l.T("containerd, nerdctl, BuildKit: trust the mirror's CA"), containerdCA,
			l.F("Each hosts.toml below names this file with ca = %q.", containerdCA)))
	}
	for _, r := range w.regs {
		out = append(out, Snippet{
			Client: "containerd", Title: l.F("containerd, nerdctl, BuildKit: %s", r),
			Path: certsDir + "/" + r + "/hosts.toml", Lang: "toml", Text: w.hostsTOML(r, w.h, containerdCA),
			Note: l.F("One file per registry; containerd reads it at each pull, with no restart, once config_path is %s (below).", certsDir),
		})
	}
	return append(out,
		Snippet{Client: "containerd", Title: l.T("containerd 1.x: read certs.d"), Path: "/etc/containerd/config.toml", Lang: "toml",
			Text: "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"" + certsDir + "\"\n",
			Note: l.F("containerd 1.x ignores %s until config_path is set in this table (config version 2). Put it there instead of any registry.mirrors (containerd refuses both), then restart containerd: sudo systemctl restart containerd.", certsDir)},
		Snippet{Client: "containerd", Title: l.T("containerd 2.x: read certs.d"), Path: "/etc/containerd/config.toml", Lang: "toml",
			Text: "[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"" + certsDir + "\"\n",
			Note: l.F("containerd 2.x reads %s by default; the table is [plugins.\"io.containerd.cri.v1.images\".registry] (config version 3). Add this only if its config.toml sets another config_path.", certsDir)},
		Snippet{Client: "containerd", Title: l.T("ctr: pull through the mirror"), Lang: "sh",
			Text: "sudo ctr images pull --hosts-dir " + certsDir + " docker.io/library/alpine:latest\n",
			Note: l.F("ctr does not read config_path: give it --hosts-dir %s on every pull. nerdctl reads %s by itself.", certsDir, certsDir)})
}

// podman is registries.conf: each registry tries the mirror first, and
// over plain http the mirror's own address is marked insecure too, so
// that names that include it pull without --tls-verify=false.
func (w writer) podman() []Snippet {
	l := w.l
	var b strings.Builder
	if !w.https {
		fmt.Fprintf(&b, "[[registry]]\nlocation = %q\ninsecure = true\n", w.h)
	}
	for _, r := range w.regs {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		mirror := w.h + "/" + r
		if r == "docker.io" {
			mirror = w.h
		}
		fmt.Fprintf(&b, "[[registry]]\nprefix = %q\nlocation = %q\n\n[[registry.mirror]]\nlocation = %q\n", r, r, mirror)
		if !w.https {
			b.WriteString("insecure = true\n")
		}
	}
	note := l.T("Pulls of these registries try the mirror first.")
	if !w.https {
		note += " " + l.F("The first entry lets names that include the mirror's address (podman pull %s/library/alpine) pull over plain http.", w.h)
	}
	var out []Snippet
	if w.ca {
		out = append(out, w.trust("podman", l.T("podman, skopeo, buildah, CRI-O: trust the mirror's CA"), "/etc/containers/certs.d/"+w.h+"/ca.crt",
			l.F("Rootless podman also reads ~/.config/containers/certs.d/%s/ca.crt.", w.h)))
	}
	return append(out, Snippet{Client: "podman", Title: l.T("podman, skopeo, buildah, CRI-O"),
		Path: l.T("/etc/containers/registries.conf (or ~/.config/containers/registries.conf)"), Lang: "toml",
		Text: b.String(), Note: note})
}

// k3sCA is where the k3s snippet keeps the mirror's CA.
const k3sCA = "/etc/rancher/k3s/" + CAFile

// k3s is registries.yaml, which k3s and RKE2 turn into containerd's
// configuration themselves.
func (w writer) k3s() []Snippet {
	l := w.l
	var b strings.Builder
	b.WriteString("mirrors:\n")
	for _, r := range w.regs {
		fmt.Fprintf(&b, "  %q:\n    endpoint:\n      - \"%s://%s\"\n", r, w.scheme(), w.h)
	}
	var out []Snippet
	if w.ca {
		fmt.Fprintf(&b, "configs:\n  %q:\n    tls:\n      ca_file: %s\n", w.h, k3sCA)
		out = append(out, w.trust("k3s", l.T("k3s, RKE2: trust the mirror's CA"), k3sCA, l.T("On every node; registries.yaml names it as ca_file.")))
	}
	return append(out, Snippet{Client: "k3s", Title: l.T("k3s, RKE2"), Path: "/etc/rancher/k3s/registries.yaml", Lang: "yaml",
		Text: b.String(), Note: l.T("Then restart k3s. The nodes must reach the mirror at this address.")})
}

// kindCA is where kind's nodes see the mirror's CA.
const kindCA = "/etc/" + CAFile

// kindGateway is a shell expression for this computer's IPv4 address on
// the Docker network "kind", which kind's nodes are attached to: the
// network's gateway.
const kindGateway = `$(docker network inspect kind -f '{{range .IPAM.Config}}{{println .Gateway}}{{end}}' | grep -m1 '\.')`

// kind is the cluster config that makes the nodes' containerd read
// certs.d (kind's own way for local registries, not the deprecated
// registry.mirrors, which containerd 2.x removed), then a script that
// writes a hosts.toml per registry into each node. Nodes are containers:
// 127.0.0.1 is their own, so a mirror on this computer's loopback is
// reached at the kind network's gateway (native engine) or at
// host.docker.internal (Docker Desktop), one script each.
func (w writer) kind() []Snippet {
	l := w.l
	var b strings.Builder
	b.WriteString("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
	note := l.T("Create the cluster with it: kind create cluster --config kind-config.yaml. Then run the script below, which writes the mirror's hosts.toml files into the nodes.")
	if w.ca {
		fmt.Fprintf(&b, "nodes:\n  - role: control-plane\n    extraMounts:\n      - hostPath: %s\n        containerPath: %s\n        readOnly: true\n", CAFile, kindCA)
		note += " " + l.F("hostPath is the mirror's CA, saved from http://%s/ca.crt (use its absolute path if kind runs elsewhere).", w.h)
	}
	fmt.Fprintf(&b, "containerdConfigPatches:\n  - |-\n    [plugins.\"io.containerd.grpc.v1.cri\".registry]\n      config_path = %q\n", certsDir)
	out := []Snippet{{Client: "kind", Title: "kind", Path: "kind-config.yaml", Lang: "yaml", Text: b.String(), Note: note}}
	p := port(w.h)
	if !loopback(w.h) {
		return append(out, Snippet{Client: "kind", Title: l.T("kind: point the nodes at the mirror"), Lang: "sh",
			Text: w.kindNodes(w.h),
			Note: l.F("Run it after kind create cluster (add --name to kind get nodes for a cluster not called kind). The nodes must reach the mirror at %s.", w.h)})
	}
	return append(out,
		Snippet{Client: "kind", Title: l.T("kind on Linux: point the nodes at the mirror"), Lang: "sh",
			Text: w.kindNodes(kindGateway + ":" + p), Engine: NativeEngine,
			Note: l.F("Run it after kind create cluster. The nodes cannot use 127.0.0.1, which is each node's own: the script names this computer by its address on the Docker network \"kind\" (its gateway, such as 172.18.0.1). The mirror must listen there: set the listen address to 0.0.0.0:%s (or that gateway address and port) and restart the mirror; without self_auth, anyone who can reach the port can then pull.", p)},
		Snippet{Client: "kind", Title: l.T("kind on Docker Desktop: point the nodes at the mirror"), Lang: "sh",
			Text: w.kindNodes("host.docker.internal:" + p), Engine: VMEngine,
			Note: l.F("Run it after kind create cluster. The nodes cannot use 127.0.0.1, which is each node's own: the script names this computer as host.docker.internal, which Docker Desktop forwards to this computer, so the mirror can keep listening on 127.0.0.1:%s.", p)})
}

// kindNodes is a script that writes each registry's hosts.toml, naming
// the mirror at addr (which may be a shell expression), into every node
// of the kind cluster.
func (w writer) kindNodes(addr string) string {
	format := `server = "%s"\n\n[host."` + w.scheme() + `://%s"]\n  capabilities = ["pull", "resolve"]\n`
	if w.ca {
		format += `  ca = "` + kindCA + `"\n`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mirror=\"%s\"\nfor node in $(kind get nodes); do\n  for r in", addr)
	for _, r := range w.regs {
		b.WriteString(" " + r + "=" + upstream(r))
	}
	b.WriteString("; do\n")
	b.WriteString("    printf '" + format + "' \"${r#*=}\" \"$mirror\" |\n")
	b.WriteString("      docker exec -i \"$node\" sh -c \"mkdir -p " + certsDir + "/${r%%=*} && cat > " + certsDir + "/${r%%=*}/hosts.toml\"\n")
	b.WriteString("  done\ndone\n")
	return b.String()
}

// pull is examples of pulling through the mirror by its own address.
func (w writer) pull() Snippet {
	h := w.h
	text := fmt.Sprintf("docker pull %[1]s/alpine\ndocker pull %[1]s/ghcr.io/OWNER/IMAGE:TAG\npodman pull --tls-verify=false %[1]s/library/alpine\n"+
		"crane pull --insecure %[1]s/library/alpine alpine.tar\nskopeo copy --src-tls-verify=false docker://%[1]s/library/alpine oci:alpine\n", h)
	switch {
	case w.ca:
		text = fmt.Sprintf("docker pull %[1]s/alpine\ndocker pull %[1]s/ghcr.io/OWNER/IMAGE:TAG\npodman pull %[1]s/library/alpine\n"+
			"SSL_CERT_FILE=%[2]s crane pull %[1]s/library/alpine alpine.tar\n"+
			"mkdir -p certs && cp %[2]s certs/ && skopeo copy --src-cert-dir certs docker://%[1]s/library/alpine oci:alpine\n", h, CAFile)
	case w.https:
		text = fmt.Sprintf("docker pull %[1]s/alpine\ndocker pull %[1]s/ghcr.io/OWNER/IMAGE:TAG\npodman pull %[1]s/library/alpine\n"+
			"crane pull %[1]s/library/alpine alpine.tar\nskopeo copy docker://%[1]s/library/alpine oci:alpine\n", h)
	}
	return Snippet{Client: "pull", Title: w.l.T("Pull through the mirror by name"), Lang: "sh", Text: text,
		Note: w.l.F("Other registries go by a path prefix: %s/ghcr.io/…, %s/quay.io/…", h, h)}
}
