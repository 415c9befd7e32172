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

// Snippets returns the set-up of client for a mirror reached at host
// (host:port, as the client will dial it) that mirrors registries.
func Snippets(client, host string, registries []string) ([]Snippet, error) {
	h := ClientHost(host)
	regs := slices.Clone(registries)
	slices.Sort(regs)
	if i := slices.Index(regs, "docker.io"); i > 0 { // Docker Hub first
		regs = append([]string{"docker.io"}, slices.Delete(regs, i, i+1)...)
	}
	switch client {
	case "docker":
		return docker(h), nil
	case "containerd":
		return containerd(h, regs), nil
	case "podman":
		return []Snippet{podman(h, regs)}, nil
	case "k3s":
		return []Snippet{k3s(h, regs)}, nil
	case "kind":
		return []Snippet{kind(h, regs)}, nil
	case "pull":
		return []Snippet{pull(h)}, nil
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

func docker(h string) []Snippet {
	native := fmt.Sprintf("{\n  \"registry-mirrors\": [\"http://%s\"]\n}\n", h)
	note := "Then restart Docker (sudo systemctl restart docker). Docker uses a mirror for Docker Hub images only."
	if !loopback(h) {
		native = fmt.Sprintf("{\n  \"registry-mirrors\": [\"http://%s\"],\n  \"insecure-registries\": [\"%s\"]\n}\n", h, h)
	}
	_, port, err := net.SplitHostPort(h)
	if err != nil {
		port = "5000"
	}
	vm := "host.docker.internal:" + port
	return []Snippet{
		{Client: "docker", Title: "Docker Engine on Linux", Path: "/etc/docker/daemon.json", Lang: "json", Text: native, Note: note},
		{Client: "docker", Title: "Docker Desktop, Colima, Rancher Desktop (the engine runs in a VM)",
			Path: "Settings → Docker Engine", Lang: "json",
			Text: fmt.Sprintf("{\n  \"registry-mirrors\": [\"http://%s\"],\n  \"insecure-registries\": [\"%s\"]\n}\n", vm, vm),
			Note: "Inside the VM, host.docker.internal is this computer; apply and restart."},
	}
}

func containerd(h string, regs []string) []Snippet {
	var out []Snippet
	for _, r := range regs {
		server := upstreamEndpoints[r]
		if server == "" {
			server = "https://" + r
		}
		out = append(out, Snippet{
			Client: "containerd", Title: "containerd, nerdctl, BuildKit: " + r,
			Path: "/etc/containerd/certs.d/" + r + "/hosts.toml", Lang: "toml",
			Text: fmt.Sprintf("server = %q\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", server, h),
			Note: "containerd reads certs.d when config_path = \"/etc/containerd/certs.d\" is set for the CRI registry plugin.",
		})
	}
	return out
}

func podman(h string, regs []string) Snippet {
	var b strings.Builder
	for i, r := range regs {
		if i > 0 {
			b.WriteString("\n")
		}
		mirror := h + "/" + r
		if r == "docker.io" {
			mirror = h
		}
		fmt.Fprintf(&b, "[[registry]]\nprefix = %q\nlocation = %q\n\n[[registry.mirror]]\nlocation = %q\ninsecure = true\n", r, r, mirror)
	}
	return Snippet{Client: "podman", Title: "podman, skopeo, buildah, CRI-O",
		Path: "/etc/containers/registries.conf (or ~/.config/containers/registries.conf)", Lang: "toml",
		Text: b.String(), Note: "Pulls of these registries try the mirror first."}
}

func k3s(h string, regs []string) Snippet {
	var b strings.Builder
	b.WriteString("mirrors:\n")
	for _, r := range regs {
		fmt.Fprintf(&b, "  %q:\n    endpoint:\n      - \"http://%s\"\n", r, h)
	}
	return Snippet{Client: "k3s", Title: "k3s, RKE2", Path: "/etc/rancher/k3s/registries.yaml", Lang: "yaml",
		Text: b.String(), Note: "Then restart k3s. The nodes must reach the mirror at this address."}
}

func kind(h string, regs []string) Snippet {
	var b strings.Builder
	b.WriteString("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\ncontainerdConfigPatches:\n  - |-\n")
	for _, r := range regs {
		fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%q]\n      endpoint = [\"http://%s\"]\n", r, h)
	}
	return Snippet{Client: "kind", Title: "kind", Path: "kind-config.yaml", Lang: "yaml", Text: b.String(),
		Note: "kind create cluster --config kind-config.yaml. Nodes are containers: use an address they reach (not 127.0.0.1)."}
}

func pull(h string) Snippet {
	text := fmt.Sprintf("docker pull %[1]s/alpine\ndocker pull %[1]s/ghcr.io/OWNER/IMAGE:TAG\npodman pull --tls-verify=false %[1]s/library/alpine\n"+
		"crane pull --insecure %[1]s/library/alpine alpine.tar\nskopeo copy --src-tls-verify=false docker://%[1]s/library/alpine oci:alpine\n", h)
	return Snippet{Client: "pull", Title: "Pull through the mirror by name", Lang: "sh", Text: text,
		Note: "Other registries go by a path prefix: " + h + "/ghcr.io/…, " + h + "/quay.io/…"}
}
