package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

// FromEnv follows gettext: LANGUAGE (a list) unless the locale is C, then
// LC_ALL, LC_MESSAGES and LANG, the first one set deciding.
func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want Lang
	}{
		{map[string]string{"LANG": "zh_CN.UTF-8"}, Chinese},
		{map[string]string{"LANG": "zh_TW.UTF-8"}, Chinese},
		{map[string]string{"LANG": "C.UTF-8"}, English},
		{map[string]string{"LANG": "en_US.UTF-8"}, English},
		{map[string]string{"LANG": "fr_FR.UTF-8"}, English},
		{map[string]string{}, English},
		{map[string]string{"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, English},
		{map[string]string{"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "C.UTF-8"}, Chinese},
		{map[string]string{"LANGUAGE": "fr:zh_CN", "LANG": "fr_FR.UTF-8"}, Chinese},
		{map[string]string{"LANGUAGE": "zh_CN:en", "LANG": "C"}, English},
		{map[string]string{"LANGUAGE": "en:zh_CN", "LANG": "zh_CN.UTF-8"}, English},
		{map[string]string{"LANG": "de_DE@euro"}, English},
	} {
		for _, v := range []string{"LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"} {
			t.Setenv(v, tc.env[v])
		}
		if got := FromEnv(); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.env, got, tc.want)
		}
	}
}

// FromAcceptLanguage honours q-values rather than the order of the list.
func TestFromAcceptLanguage(t *testing.T) {
	for h, want := range map[string]Lang{
		"zh-CN":                    Chinese,
		"zh-CN,zh;q=0.9,en;q=0.8":  Chinese,
		"en;q=1, zh;q=0.5":         English,
		"en;q=0.1, zh;q=0.2":       Chinese,
		"fr, zh;q=0.5":             Chinese,
		"de-DE,de;q=0.9,en;q=0.8":  English,
		"fr":                       English,
		"":                         English,
		"garbage;;q=x":             English,
		"zh-Hant-TW":               Chinese,
		"en-GB,en;q=0.9,zh;q=0.95": English,
		"en-GB, zh;q=0.9":          English,
		"zh-TW, en;q=0.9":          English,
		"zh-TW, fr;q=0.9":          Chinese,
	} {
		if got := FromAcceptLanguage(h); got != want {
			t.Errorf("%q: %s, want %s", h, got, want)
		}
	}
}

// FromLocale reads BCP 47 tags, POSIX names and Fyne's "zh-CN-Hans".
func TestFromLocale(t *testing.T) {
	for name, want := range map[string]Lang{
		"zh-CN": Chinese, "zh-CN-Hans": Chinese, "zh_CN.UTF-8": Chinese, "zh-Hans": Chinese,
		"en-US": English, "fr-FR": English, "C": English, "": English, "xx-!!": English,
	} {
		if got := FromLocale(name); got != want {
			t.Errorf("%q: %s, want %s", name, got, want)
		}
	}
}

// T looks a key up in the catalog; English, and keys it lacks, are the
// key itself. F formats the translation.
func TestTAndF(t *testing.T) {
	if got := Chinese.T("Settings…"); got != "设置…" {
		t.Errorf("Chinese Settings…: %q", got)
	}
	if got := English.T("Settings…"); got != "Settings…" {
		t.Errorf("English Settings…: %q", got)
	}
	if got := Chinese.T("no such key, surely"); got != "no such key, surely" {
		t.Errorf("a missing key: %q", got)
	}
	if got := Chinese.F("%s is not pinned", "alpine:3.20"); got != "alpine:3.20 没有被固定" {
		t.Errorf("F: %q", got)
	}
	if got := Lang("fr").T("Settings…"); got != "Settings…" {
		t.Errorf("a language without a file: %q", got)
	}
}

// The keyring is named as each OS names it, in texts that say
// {{.Keyring}}.
func TestKeyringName(t *testing.T) {
	c, err := loaded()
	if err != nil {
		t.Fatal(err)
	}
	for goos, want := range map[string]string{"linux": "密钥环", "darwin": "钥匙串", "windows": "凭据管理器", "plan9": "系统密钥环"} {
		if got := Chinese.T(keyringKey(goos)); got != want {
			t.Errorf("%s: %q, want %q", goos, got, want)
		}
	}
	if got := English.T(keyringKey("darwin")); got != "the macOS Keychain" {
		t.Errorf("English darwin: %q", got)
	}
	name := KeyringName(Chinese)
	if got := Chinese.T("Removed the credentials for %s from the OS keyring.\n"); got != "已从"+name+"移除 %s 的凭据。\n" || strings.Contains(got, "{{") {
		t.Errorf("Removed the credentials: %q, want it to name %q", got, name)
	}
	if c.data[Chinese]["Keyring"] != name {
		t.Errorf("template data %q, KeyringName %q", c.data[Chinese]["Keyring"], name)
	}
}

// Text recognises messages formatted from keys, with their arguments
// translated in turn (%s, %v, %w) or kept (%q, %d), line by line, and
// after an unknown context.
func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"Settings…": "设置…",
		`settings: --listen "localhost" is not host:port (for example 127.0.0.1:5000)`:                                                                                              `设置：--listen "localhost" 不是“主机:端口”形式（例如 127.0.0.1:5000）`,
		"docker.io (https://registry-1.docker.io) answers 503; cached images still pull.":                                                                                           "docker.io (https://registry-1.docker.io) 返回 503；已缓存的镜像仍可拉取。",
		"ghcr.io (https://ghcr.io) answers 503; cached images still pull.\ndocker.io (https://x) cannot be reached; cached images still pull. Check the network or proxy settings.": "ghcr.io (https://ghcr.io) 返回 503；已缓存的镜像仍可拉取。\n无法连接 docker.io (https://x)；已缓存的镜像仍可拉取。请检查网络或代理设置。",
		`/home/a/settings.json: "listen": "x" is not host:port (for example 127.0.0.1:5000)`:                                                                                        `/home/a/settings.json: "listen"："x" 不是“主机:端口”形式（例如 127.0.0.1:5000）`,
		"login failed, nothing was stored: upstream denied access":                                                                                                                  "登录失败，未保存任何内容：上游拒绝访问",
		"nothing to see here": "nothing to see here",
		`"is not host:port"`:  `"is not host:port"`,
		"":                    "",
	} {
		if got := Chinese.Text(in); got != want {
			t.Errorf("Text(%q)\n got %q\nwant %q", in, got, want)
		}
		if got := English.Text(in); got != in {
			t.Errorf("English Text(%q) = %q", in, got)
		}
	}
}

// parseFormat reads %%, flags and explicit argument indexes as fmt does.
func TestParseFormat(t *testing.T) {
	var verbs []string
	for _, p := range parseFormat("100%% %[2]q then %-5d, %s%") {
		if p.verb != 0 {
			verbs = append(verbs, string(p.verb)+":"+string(rune('0'+p.arg)))
		}
	}
	if got := strings.Join(verbs, " "); got != "q:1 d:2 s:3" {
		t.Errorf("verbs %q", got)
	}
	if p := compilePattern("no verbs here"); p != nil {
		t.Errorf("a key without verbs is a pattern")
	}
}

// A catalog file that does not parse is an error, not a panic.
func TestLoadBadFile(t *testing.T) {
	fsys := fstest.MapFS{"catalog/zh-Hans.json": {Data: []byte(`{"a": `)}}
	if _, err := loadFS(fsys, "catalog"); err == nil {
		t.Error("a broken file loads")
	}
	if _, err := loadFS(fstest.MapFS{}, "catalog"); err == nil {
		t.Error("a missing folder loads")
	}
}
