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
