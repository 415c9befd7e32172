package e2e

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// TestI18nServeErrors: `hubmirror serve` prints its errors in the user's
// language, from the one catalog, and exits non-zero either way: a bad
// --listen, a settings file with a bad value, an address another program
// holds.
func TestI18nServeErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name, lang string
		args       []string
		want       []string
		not        []string
	}{
		{"bad listen, Chinese", "zh_CN.UTF-8", []string{"--listen", "localhost"},
			[]string{`--listen "localhost"`, "不是“主机:端口”形式", "设置"}, []string{"is not host:port"}},
		{"bad listen, English", "C.UTF-8", []string{"--listen", "localhost"},
			[]string{`settings: --listen "localhost" is not host:port (for example 127.0.0.1:5000)`}, []string{"主机"}},
		{"address in use, Chinese", "zh_CN.UTF-8", []string{"--listen", taken.Addr().String()},
			[]string{taken.Addr().String() + " 已被其他程序占用", "--listen", "隔空播放"}, []string{"is taken"}},
		{"address in use, English", "en_US.UTF-8", []string{"--listen", taken.Addr().String()},
			[]string{"is taken by another program", "AirPlay"}, []string{"占用"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(isolatedEnv(t), "LANG="+tc.lang, "LC_ALL=", "LC_MESSAGES=", "LANGUAGE=")
			args := append([]string{"serve", "--cache-dir", filepath.Join(t.TempDir(), "cache"),
				"--config", filepath.Join(t.TempDir(), "settings.json")}, tc.args...)
			out, code := hubmirror(t, env, "", args...)
			if code == 0 {
				t.Fatalf("exit 0:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestI18nLandingPage: the landing page speaks the language the browser
// prefers by its q-values, not the first it names.
func TestI18nLandingPage(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	m := startMirror(t, hub.URL())
	for _, tc := range []struct {
		accept, want, not, lang string
	}{
		{"zh-CN", "配置你的工具使用此镜像服务", "Point your tools", `lang="zh-Hans"`},
		{"en;q=1, zh;q=0.5", "Point your tools at this mirror", "镜像服务", `lang="en"`},
		{"fr, zh;q=0.5", "配置你的工具使用此镜像服务", "Point your tools", `lang="zh-Hans"`},
		{"", "Point your tools at this mirror", "镜像服务", `lang="en"`},
	} {
		req, _ := http.NewRequest(http.MethodGet, m.URL("/"), nil)
		req.Header.Set("Accept-Language", tc.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if !strings.Contains(page, tc.want) || strings.Contains(page, tc.not) || !strings.Contains(page, tc.lang) {
			t.Errorf("Accept-Language %q: the page lacks %q or %q, or has %q", tc.accept, tc.want, tc.lang, tc.not)
		}
	}
}
