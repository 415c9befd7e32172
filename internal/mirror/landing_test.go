package mirror

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The landing page names the host it was loaded from in every snippet, in
// the browser's language, and /api/status serves the counters.
func TestLandingPage(t *testing.T) {
	hub := newHub(t)
	tm := startMirror(t, hub)
	for _, tc := range []struct {
		host, lang, want string
	}{
		{"", "", "Point your tools at this mirror"},
		{"mirror.lan:5000", "en-GB,en;q=0.9", "Point your tools at this mirror"},
		{"192.168.7.7:5000", "zh-CN,zh;q=0.9,en;q=0.8", "配置你的工具使用此镜像"},
	} {
		req, _ := http.NewRequest(http.MethodGet, tm.base+"/", nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		req.Header.Set("Accept-Language", tc.lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := readAll(resp)
		page := string(body)
		host := tc.host
		if host == "" {
			host = tm.Addr()
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", host, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, want := range []string{
			tc.want,
			`&#34;registry-mirrors&#34;: [&#34;http://` + host + `&#34;]`,
			`[host.&#34;http://` + host + `&#34;]`,
			`location = &#34;` + host + `/ghcr.io&#34;`,
			"docker pull " + host + "/alpine",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the page lacks %q", host, want)
			}
		}
	}
	r := tm.get(t, "/api/status")
	var st Counters
	if err := json.Unmarshal(r.body, &st); err != nil || st.Requests < 3 {
		t.Errorf("/api/status: %v %s", err, r.body)
	}
	if r := tm.get(t, "/favicon.png"); r.status != http.StatusOK || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("favicon: %d", r.status)
	}
}

// With tls auto the page offers the CA at /ca.crt with its fingerprint,
// and its snippets use https:// and say where each client keeps the CA;
// also when the page itself was loaded over plain HTTP.
func TestLandingPageWithTLS(t *testing.T) {
	hub := newHub(t)
	conf := t.TempDir()
	tm := startMirrorCfg(t, hub, func(c *Config) { c.TLS = TLS{Mode: TLSAuto, Dir: conf} })
	caPEM, err := EnsureCA(conf)
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := Fingerprint(caPEM)
	req, _ := http.NewRequest(http.MethodGet, tm.base+"/", nil)
	req.Host = "mirror.lan:5000"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := readAll(resp)
	page := string(body)
	for _, want := range []string{
		`<a href="/ca.crt" download="hubmirror-ca.crt">`, fp,
		`&#34;registry-mirrors&#34;: [&#34;https://mirror.lan:5000&#34;]`,
		`[host.&#34;https://mirror.lan:5000&#34;]`,
		"/etc/docker/certs.d/mirror.lan:5000/ca.crt",
		"/etc/containers/certs.d/mirror.lan:5000/ca.crt",
		`ca = &#34;/etc/containerd/hubmirror-ca.crt&#34;`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "insecure") {
		t.Error("the page still tells clients to allow insecure registries")
	}
}

// /api/status, which the landing page refreshes from, names the problem in
// the reader's language, as the page itself does.
func TestStatusProblemInReadersLanguage(t *testing.T) {
	hub := newHub(t)
	hub.AddImage("library/alpine", "latest", []byte("rootfs"))
	tm := startMirror(t, hub)
	hub.SetDown(true)
	if st := tm.get(t, "/v2/alpine/manifests/latest", "Accept", fullAccept).status; st == http.StatusOK {
		t.Fatalf("manifest with upstream down: %d", st)
	}
	problem := func(lang string) string {
		r := tm.get(t, "/api/status", "Accept-Language", lang)
		var st struct{ UpstreamProblem string }
		if err := json.Unmarshal([]byte(r.body), &st); err != nil {
			t.Fatalf("/api/status: %v %s", err, r.body)
		}
		return st.UpstreamProblem
	}
	en, zh := problem("en"), problem("zh-CN,zh;q=0.9")
	if en == "" || !strings.Contains(en, "docker.io") {
		t.Fatalf("English problem %q", en)
	}
	if zh == en || !strings.ContainsFunc(zh, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
		t.Fatalf("Chinese problem %q (English %q): not translated", zh, en)
	}
}
