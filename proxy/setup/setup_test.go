package setup

import (
	"encoding/json"
	"strings"
	"testing"
)

var regs = []string{"quay.io", "docker.io", "ghcr.io"}

func TestSnippetsNameTheHost(t *testing.T) {
	for _, client := range Clients {
		for _, host := range []string{"127.0.0.1:5000", "mirror.lan:5001"} {
			snips, err := Snippets(client, host, regs)
			if err != nil || len(snips) == 0 {
				t.Fatalf("%s: %v", client, err)
			}
			for _, s := range snips {
				want := host
				if strings.HasPrefix(s.Title, "Docker Desktop") {
					want = "host.docker.internal:" + strings.Split(host, ":")[1]
				}
				if !strings.Contains(s.Text, want) || s.Title == "" || s.Lang == "" {
					t.Errorf("%s/%s for %s: %q", client, s.Title, host, s.Text)
				}
			}
		}
	}
	if _, err := Snippets("lxd", "h:1", regs); err == nil || !strings.Contains(err.Error(), "docker, containerd") {
		t.Errorf("unknown client: %v", err)
	}
}

func TestDockerSnippet(t *testing.T) {
	for _, tc := range []struct {
		host, want string
		insecure   bool
	}{
		{"127.0.0.1:5000", "http://127.0.0.1:5000", false},
		{"0.0.0.0:5000", "http://127.0.0.1:5000", false},
		{"[::]:5000", "http://127.0.0.1:5000", false},
		{"192.168.1.20:5000", "http://192.168.1.20:5000", true},
	} {
		snips, _ := Snippets("docker", tc.host, regs)
		var cfg struct {
			Mirrors  []string `json:"registry-mirrors"`
			Insecure []string `json:"insecure-registries"`
		}
		if err := json.Unmarshal([]byte(snips[0].Text), &cfg); err != nil {
			t.Fatalf("%s: daemon.json is not JSON: %v", tc.host, err)
		}
		if len(cfg.Mirrors) != 1 || cfg.Mirrors[0] != tc.want || (len(cfg.Insecure) > 0) != tc.insecure {
			t.Errorf("%s: %+v", tc.host, cfg)
		}
	}
}

func TestContainerdHasAFilePerRegistry(t *testing.T) {
	snips, _ := Snippets("containerd", "127.0.0.1:5000", regs)
	if len(snips) != 3 || !strings.HasSuffix(snips[0].Path, "/docker.io/hosts.toml") {
		t.Fatalf("%+v", snips)
	}
	if !strings.Contains(snips[0].Text, `server = "https://registry-1.docker.io"`) {
		t.Errorf("docker.io server: %s", snips[0].Text)
	}
}

func TestPodmanMirrorsOtherRegistriesByPrefix(t *testing.T) {
	snips, _ := Snippets("podman", "127.0.0.1:5000", regs)
	text := snips[0].Text
	for _, want := range []string{`location = "127.0.0.1:5000"` + "\n", `location = "127.0.0.1:5000/ghcr.io"`, `prefix = "quay.io"`, "insecure = true"} {
		if !strings.Contains(text, want) {
			t.Errorf("registries.conf lacks %q:\n%s", want, text)
		}
	}
}

// With TLS on, every snippet uses https:// and no "insecure" setting; with
// the local CA, docker, containerd, podman and k3s are told where their
// client keeps it, and the fingerprint to check.
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
				snips, err := Snippets(client, h, regs, tc.opts...)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range snips {
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
	docker, _ := Snippets("docker", h, regs, LocalCA(fp))
	var cfg struct {
		Mirrors []string `json:"registry-mirrors"`
	}
	if err := json.Unmarshal([]byte(docker[1].Text), &cfg); err != nil || len(cfg.Mirrors) != 1 || cfg.Mirrors[0] != "https://"+h {
		t.Errorf("daemon.json: %v %s", err, docker[1].Text)
	}
	ctd, _ := Snippets("containerd", h, regs, LocalCA(fp))
	if !strings.Contains(ctd[1].Text, `[host."https://`+h+`"]`) || !strings.Contains(ctd[1].Text, `ca = "`+containerdCA+`"`) {
		t.Errorf("hosts.toml:\n%s", ctd[1].Text)
	}
	pull, _ := Snippets("pull", h, regs, LocalCA(fp))
	if !strings.Contains(pull[0].Text, "SSL_CERT_FILE="+CAFile+" crane pull "+h) {
		t.Errorf("pull:\n%s", pull[0].Text)
	}
}
