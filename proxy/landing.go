package proxy

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/hubmirror/hubmirror/assets"
	"github.com/hubmirror/hubmirror/proxy/setup"
)

var landingTemplate = template.Must(template.New("landing").Parse(assets.LandingPage))

// landingText is the page's own wording in one language; the snippets
// themselves are configuration and stay as they are.
type landingText struct {
	Tagline, Running, Cached, HitRate, InFlight, PullsLeft   string
	Setup, SetupIntro, Copy, Copied, Unreachable, Registries string
	TrustCA, Fingerprint                                     string
}

var landingTexts = map[string]landingText{
	"en": {
		Tagline: "A pull-through mirror of Docker Hub and other registries: every layer comes from the internet once, then from this computer's disk.",
		Running: "Running", Cached: "cached on disk", HitRate: "requests served from the cache",
		InFlight: "downloads in flight", PullsLeft: "Docker Hub pulls left",
		Setup:      "Point your tools at this mirror",
		SetupIntro: "Each snippet names the address you loaded this page from. Copy it into the file shown.",
		Copy:       "Copy", Copied: "Copied", Unreachable: "Unreachable", Registries: "Registries",
		TrustCA: "This mirror serves HTTPS with its own certificate authority. Download its certificate, check the fingerprint, " +
			"and install it for each client as its snippets below show:",
		Fingerprint: "SHA-256 fingerprint",
	},
	"zh": {
		Tagline: "Docker Hub 及其他镜像仓库的拉取缓存镜像：每一层只从互联网下载一次，之后都从本机磁盘读取。",
		Running: "运行中", Cached: "磁盘缓存", HitRate: "由缓存响应的请求",
		InFlight: "正在下载", PullsLeft: "Docker Hub 剩余拉取次数",
		Setup:      "配置你的工具使用此镜像",
		SetupIntro: "以下配置均使用你打开本页所用的地址。复制到所示文件中即可。",
		Copy:       "复制", Copied: "已复制", Unreachable: "无法连接", Registries: "镜像仓库",
		TrustCA:     "此镜像使用自己的证书颁发机构（CA）提供 HTTPS。下载其证书，核对指纹，再按下方各客户端的配置安装：",
		Fingerprint: "SHA-256 指纹",
	},
}

// pageLanguage picks "zh" when the browser prefers Chinese, else "en".
func pageLanguage(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch tag = strings.ToLower(tag); {
		case strings.HasPrefix(tag, "zh"):
			return "zh"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

type landingClient struct {
	Name, Label string
	Snippets    []setup.Snippet
}

var clientLabels = map[string]string{
	"docker": "Docker", "containerd": "containerd / nerdctl", "podman": "podman / skopeo",
	"k3s": "k3s", "kind": "kind", "pull": "docker pull …",
}

// serveLanding is the page at "/": what this mirror is, its live status,
// and copy-ready set-up naming the host the page was loaded from.
func (s *server) serveLanding(w *recorder, r *http.Request) error {
	lang := pageLanguage(r)
	host := r.Host
	regs := make([]string, 0, len(s.upstreams))
	for name := range s.upstreams {
		regs = append(regs, name)
	}
	sort.Strings(regs)
	var opts []setup.Option
	tr := transportOf(r)
	switch {
	case tr.caFingerprint != "":
		opts = append(opts, setup.LocalCA(tr.caFingerprint))
	case tr.tlsOn:
		opts = append(opts, setup.HTTPS())
	}
	var clients []landingClient
	for _, c := range setup.Clients {
		snips, err := setup.Snippets(c, host, regs, opts...)
		if err != nil {
			return err
		}
		clients = append(clients, landingClient{Name: c, Label: clientLabels[c], Snippets: snips})
	}
	st := s.stats.snapshot()
	hitRate := "–"
	if n := st.CacheHits + st.CacheMisses; n > 0 {
		hitRate = fmt.Sprintf("%d%%", st.CacheHits*100/n)
	}
	pulls := "–"
	if st.DockerHubPullsLeft >= 0 {
		pulls = fmt.Sprint(st.DockerHubPullsLeft)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.Header().Set("Vary", "Accept-Language")
	return landingTemplate.Execute(w, map[string]any{
		"Lang": lang, "T": landingTexts[lang], "Host": host, "Version": Version,
		"Status": st, "Cached": FormatBytes(st.CacheBytes), "HitRate": hitRate, "PullsLeft": pulls,
		"Clients": clients, "Registries": strings.Join(regs, ", "), "CAFingerprint": tr.caFingerprint,
	})
}

// serveStatus is /api/status: the counters as JSON, for the landing page.
func (s *server) serveStatus(w *recorder) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(s.stats.snapshot())
}

// FormatBytes writes n in decimal units for people: 999 B, 1.5 kB, 12 MB,
// 2.1 GB. The landing page and the desktop app use it.
func FormatBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	unit := -1
	for v >= 999.5 && unit < len(bytePrefixes)-1 {
		v /= 1000
		unit++
	}
	if v < 9.95 {
		return fmt.Sprintf("%.1f %sB", v, bytePrefixes[unit])
	}
	return fmt.Sprintf("%.0f %sB", v, bytePrefixes[unit])
}

var bytePrefixes = []string{"k", "M", "G", "T", "P", "E"}
