// Package setup writes the configuration that points each container client
// at a mirror: Docker's daemon.json, containerd's hosts.toml, podman's and
// skopeo's registries.conf, k3s's registries.yaml, kind's cluster config,
// and pull examples. The landing page, `hubmirror setup` and the desktop
// app all show these same snippets.
package setup

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// Snippet is one file (or command) for one client.
type Snippet struct {
	Client string // "docker", "containerd", …
	Title  string // what it is for
	Path   string // where the file goes; "" for commands
	Lang   string // "json", "toml", "yaml", "sh"
	Text   string
	Note   string // what to do with it, one sentence
}

// Clients are the clients Snippets knows, in the order pages show them.
var Clients = []string{"docker", "containerd", "podman", "k3s", "kind", "pull"}

// upstreamEndpoints are the real endpoints containerd falls back to.
var upstreamEndpoints = map[string]string{
	"docker.io": "https://registry-1.docker.io",
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

// Snippets returns the set-up of client for a mirror reached at host
// (host:port, as the client will dial it) that mirrors registries.
func Snippets(client, host string, registries []string, opts ...Option) ([]Snippet, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	h := ClientHost(host)
	regs := slices.Clone(registries)
	slices.Sort(regs)
	if i := slices.Index(regs, "docker.io"); i > 0 { // Docker Hub first
		regs = append([]string{"docker.io"}, slices.Delete(regs, i, i+1)...)
	}
	switch client {
	case "docker":
		return docker(h, o), nil
	case "containerd":
		return containerd(h, regs, o), nil
	case "podman":
		return podman(h, regs, o), nil
	case "k3s":
		return k3s(h, regs, o), nil
	case "kind":
		return []Snippet{kind(h, regs, o)}, nil
	case "pull":
		return []Snippet{pull(h, o)}, nil
	}
	return nil, fmt.Errorf("unknown client %q: choose one of %s", client, strings.Join(Clients, ", "))
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
// where Docker allows plain http without "insecure-registries".
func loopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
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
func (o options) trust(client, title, h, path, note string) Snippet {
	dir := path[:strings.LastIndex(path, "/")]
	text := fmt.Sprintf("curl -fsSo %[1]s http://%[2]s/ca.crt\n"+
		"openssl x509 -noout -fingerprint -sha256 -in %[1]s   # must print %[3]s\n"+
		"sudo mkdir -p %[4]s && sudo cp %[1]s %[5]s\n", CAFile, h, o.fingerprint, dir, path)
	return Snippet{Client: client, Title: title, Path: path, Lang: "sh", Text: text,
		Note: note + " Or copy it from the mirror's machine: hubmirror setup ca > " + CAFile + "."}
}

func docker(h string, o options) []Snippet {
	s := o.scheme()
	native := fmt.Sprintf("{\n  \"registry-mirrors\": [\"%s://%s\"]\n}\n", s, h)
	note := "Then restart Docker (sudo systemctl restart docker). Docker uses a mirror for Docker Hub images only."
	if !loopback(h) && !o.https {
		native = fmt.Sprintf("{\n  \"registry-mirrors\": [\"http://%s\"],\n  \"insecure-registries\": [\"%s\"]\n}\n", h, h)
	}
	_, port, err := net.SplitHostPort(h)
	if err != nil {
		port = "5000"
	}
	vm := "host.docker.internal:" + port
	desktop := fmt.Sprintf("{\n  \"registry-mirrors\": [\"http://%s\"],\n  \"insecure-registries\": [\"%s\"]\n}\n", vm, vm)
	desktopNote := "Inside the VM, host.docker.internal is this computer; apply and restart."
	if o.https {
		desktop = fmt.Sprintf("{\n  \"registry-mirrors\": [\"https://%s\"]\n}\n", vm)
	}
	if o.ca {
		desktopNote += " Save the mirror's CA as ~/.docker/certs.d/" + vm + "/ca.crt first (download it from http://" + h + "/ca.crt)."
	}
	var out []Snippet
	if o.ca {
		out = append(out, o.trust("docker", "Docker Engine: trust the mirror's CA", h, "/etc/docker/certs.d/"+h+"/ca.crt",
			"Docker reads the CA of a registry or mirror at HOST:PORT from /etc/docker/certs.d/HOST:PORT/ca.crt, with no restart."))
	}
	return append(out,
		Snippet{Client: "docker", Title: "Docker Engine on Linux", Path: "/etc/docker/daemon.json", Lang: "json", Text: native, Note: note},
		Snippet{Client: "docker", Title: "Docker Desktop, Colima, Rancher Desktop (the engine runs in a VM)",
			Path: "Settings → Docker Engine", Lang: "json", Text: desktop, Note: desktopNote})
}

// containerdCA is where the containerd snippets keep the mirror's CA.
const containerdCA = "/etc/containerd/" + CAFile

func containerd(h string, regs []string, o options) []Snippet {
	var out []Snippet
	if o.ca {
		out = append(out, o.trust("containerd", "containerd, nerdctl, BuildKit: trust the mirror's CA", h, containerdCA,
			"Each hosts.toml below names this file with ca = \""+containerdCA+"\"."))
	}
	ca := ""
	if o.ca {
		ca = fmt.Sprintf("  ca = %q\n", containerdCA)
	}
	for _, r := range regs {
		server := upstreamEndpoints[r]
		if server == "" {
			server = "https://" + r
		}
		out = append(out, Snippet{
			Client: "containerd", Title: "containerd, nerdctl, BuildKit: " + r,
			Path: "/etc/containerd/certs.d/" + r + "/hosts.toml", Lang: "toml",
			Text: fmt.Sprintf("server = %q\n\n[host.\"%s://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n%s", server, o.scheme(), h, ca),
			Note: "containerd reads certs.d when config_path = \"/etc/containerd/certs.d\" is set for the CRI registry plugin.",
		})
	}
	return out
}

func podman(h string, regs []string, o options) []Snippet {
	var b strings.Builder
	for i, r := range regs {
		if i > 0 {
			b.WriteString("\n")
		}
		mirror := h + "/" + r
		if r == "docker.io" {
			mirror = h
		}
		fmt.Fprintf(&b, "[[registry]]\nprefix = %q\nlocation = %q\n\n[[registry.mirror]]\nlocation = %q\n", r, r, mirror)
		if !o.https {
			b.WriteString("insecure = true\n")
		}
	}
	var out []Snippet
	if o.ca {
		out = append(out, o.trust("podman", "podman, skopeo, buildah, CRI-O: trust the mirror's CA", h, "/etc/containers/certs.d/"+h+"/ca.crt",
			"Rootless podman also reads ~/.config/containers/certs.d/"+h+"/ca.crt."))
	}
	return append(out, Snippet{Client: "podman", Title: "podman, skopeo, buildah, CRI-O",
		Path: "/etc/containers/registries.conf (or ~/.config/containers/registries.conf)", Lang: "toml",
		Text: b.String(), Note: "Pulls of these registries try the mirror first."})
}

// k3sCA is where the k3s snippet keeps the mirror's CA.
const k3sCA = "/etc/rancher/k3s/" + CAFile

func k3s(h string, regs []string, o options) []Snippet {
	var b strings.Builder
	b.WriteString("mirrors:\n")
	for _, r := range regs {
		fmt.Fprintf(&b, "  %q:\n    endpoint:\n      - \"%s://%s\"\n", r, o.scheme(), h)
	}
	var out []Snippet
	if o.ca {
		fmt.Fprintf(&b, "configs:\n  %q:\n    tls:\n      ca_file: %s\n", h, k3sCA)
		out = append(out, o.trust("k3s", "k3s, RKE2: trust the mirror's CA", h, k3sCA, "On every node; registries.yaml names it as ca_file."))
	}
	return append(out, Snippet{Client: "k3s", Title: "k3s, RKE2", Path: "/etc/rancher/k3s/registries.yaml", Lang: "yaml",
		Text: b.String(), Note: "Then restart k3s. The nodes must reach the mirror at this address."})
}

func kind(h string, regs []string, o options) Snippet {
	var b strings.Builder
	b.WriteString("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
	note := "kind create cluster --config kind-config.yaml. Nodes are containers: use an address they reach (not 127.0.0.1)."
	if o.ca {
		fmt.Fprintf(&b, "nodes:\n  - role: control-plane\n    extraMounts:\n      - hostPath: %s\n        containerPath: /etc/%s\n        readOnly: true\n", CAFile, CAFile)
		note += " hostPath is the mirror's CA, saved from http://" + h + "/ca.crt (use its absolute path if kind runs elsewhere)."
	}
	b.WriteString("containerdConfigPatches:\n  - |-\n")
	for _, r := range regs {
		fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%q]\n      endpoint = [\"%s://%s\"]\n", r, o.scheme(), h)
	}
	if o.ca {
		fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.%q.tls]\n      ca_file = \"/etc/%s\"\n", h, CAFile)
	}
	return Snippet{Client: "kind", Title: "kind", Path: "kind-config.yaml", Lang: "yaml", Text: b.String(), Note: note}
}

func pull(h string, o options) Snippet {
	text := fmt.Sprintf("docker pull %[1]s/alpine\ndocker pull %[1]s/ghcr.io/OWNER/IMAGE:TAG\npodman pull --tls-verify=false %[1]s/library/alpine\n"+
		"crane pull --insecure %[1]s/library/alpine alpine.tar\nskopeo copy --src-tls-verify=false docker://%[1]s/library/alpine oci:alpine\n", h)
	switch {
	case o.ca:
		text = fmt.Sprintf("docker pull %[1]s/alpine\ndocker pull %[1]s/ghcr.io/OWNER/IMAGE:TAG\npodman pull %[1]s/library/alpine\n"+
			"SSL_CERT_FILE=%[2]s crane pull %[1]s/library/alpine alpine.tar\n"+
			"mkdir -p certs && cp %[2]s certs/ && skopeo copy --src-cert-dir certs docker://%[1]s/library/alpine oci:alpine\n", h, CAFile)
	case o.https:
		text = fmt.Sprintf("docker pull %[1]s/alpine\ndocker pull %[1]s/ghcr.io/OWNER/IMAGE:TAG\npodman pull %[1]s/library/alpine\n"+
			"crane pull %[1]s/library/alpine alpine.tar\nskopeo copy docker://%[1]s/library/alpine oci:alpine\n", h)
	}
	return Snippet{Client: "pull", Title: "Pull through the mirror by name", Lang: "sh", Text: text,
		Note: "Other registries go by a path prefix: " + h + "/ghcr.io/…, " + h + "/quay.io/…"}
}
