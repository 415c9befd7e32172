package mirror

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/hubmirror/hubmirror/assets"
	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/version"
)

var landingTemplate = template.Must(template.New("landing").Parse(assets.LandingPage))

// landingText is the page's own wording in one language; the snippets
// themselves are configuration and stay as they are.
type landingText struct {
	Tagline, Running, Cached, HitRate, InFlight, PullsLeft   string
	Setup, SetupIntro, Copy, Copied, Unreachable, Registries string
	TrustCA, Fingerprint                                     string
}

// landingTextIn is the page's wording in l, from the catalog.
func landingTextIn(l i18n.Lang) landingText {
	return landingText{
		Tagline: l.T("A pull-through mirror of Docker Hub and other registries: every layer comes from the internet once, then from this computer's disk."),
		Running: l.T("Running"), Cached: l.T("cached on disk"), HitRate: l.T("requests served from the cache"),
		InFlight: l.T("downloads in flight"), PullsLeft: l.T("Docker Hub pulls left"),
		Setup:      l.T("Point your tools at this mirror"),
		SetupIntro: l.T("Each snippet names the address you loaded this page from. Copy it into the file shown."),
		Copy:       l.T("Copy"), Copied: l.T("Copied"), Unreachable: l.T("Unreachable"), Registries: l.T("Registries"),
		TrustCA: l.T("This mirror serves HTTPS with its own certificate authority. Download its certificate, check the fingerprint, " +
			"and install it for each client as its snippets below show:"),
		Fingerprint: l.T("SHA-256 fingerprint"),
	}
}

// pageLanguage is the catalog's language the browser prefers, by its
// Accept-Language header (q-values honoured), English when it names
// neither.
func pageLanguage(r *http.Request) i18n.Lang {
	return i18n.FromAcceptLanguage(r.Header.Get("Accept-Language"))
}

type landingClient struct {
	Name, Label string
	Snippets    []clientsetup.Snippet
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
	var opts []clientsetup.Option
	tr := transportOf(r)
	switch {
	case tr.caFingerprint != "":
		opts = append(opts, clientsetup.LocalCA(tr.caFingerprint))
	case tr.tlsOn:
		opts = append(opts, clientsetup.HTTPS())
	}
	var clients []landingClient
	for _, c := range clientsetup.Clients {
		snips, err := clientsetup.Snippets(lang, c, host, regs, opts...)
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
	shown := st // the problems, made in English, as the reader reads them
	shown.UpstreamProblem = lang.Text(st.UpstreamProblem)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", string(lang))
	w.Header().Set("Vary", "Accept-Language")
	return landingTemplate.Execute(w, map[string]any{
		"Lang": string(lang), "T": landingTextIn(lang), "Host": host, "Version": version.String(),
		"Status": shown, "Cached": FormatBytes(st.CacheBytes), "HitRate": hitRate, "PullsLeft": pulls,
		"Clients": clients, "Registries": strings.Join(regs, ", "), "CAFingerprint": tr.caFingerprint,
	})
}

// serveStatus is /api/status: the counters as JSON, for the landing page,
// with the problems in the reader's language (Accept-Language), as the page
// that refreshes from it was first shown.
func (s *server) serveStatus(w *recorder, r *http.Request) error {
	st := s.stats.snapshot()
	lang := pageLanguage(r)
	st.UpstreamProblem = lang.Text(st.UpstreamProblem)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", string(lang))
	w.Header().Set("Vary", "Accept-Language")
	return json.NewEncoder(w).Encode(st)
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
