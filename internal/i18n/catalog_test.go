package i18n

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// sameInEveryLanguage are keys whose words stay as they are in Chinese.
var sameInEveryLanguage = map[string]bool{
	"[y/N]": true,
	// Lists of product names: only the separators change.
	"containerd, nerdctl, BuildKit: %s": true, "k3s, RKE2": true, "podman, skopeo, buildah, CRI-O": true,
}

// readCatalog reads a catalog file as a flat object, in file order.
func readCatalog(t *testing.T, path string) (keys []string, texts map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &texts); err != nil {
		t.Fatalf("%s is not a flat {\"English\": \"translation\"} object: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	return keys, texts
}

// The catalog loads, and its Chinese file is flat, sorted (so that merging
// strings files by hand stays easy) and complete: every key has a Chinese
// text, in Chinese where the key has words, with the same format verbs.
func TestChineseCatalogIsComplete(t *testing.T) {
	if _, err := loaded(); err != nil {
		t.Fatal(err)
	}
	keys, zh := readCatalog(t, "catalog/zh-Hans.json")
	if len(keys) != len(zh) {
		t.Errorf("zh-Hans.json has a key twice (%d keys, %d distinct)", len(keys), len(zh))
	}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Errorf("zh-Hans.json is not sorted: %q comes after %q", keys[i], keys[i-1])
			break
		}
	}
	for _, k := range keys {
		v := zh[k]
		switch {
		case strings.TrimSpace(v) == "":
			t.Errorf("no Chinese for %q", k)
		case hasWords(k) && !hasHan(v) && !sameInEveryLanguage[k]:
			t.Errorf("%q: %q is not Chinese", k, v)
		}
		if a, b := verbs(k), verbs(v); a != b {
			t.Errorf("%q has verbs %s, its Chinese %q has %s", k, a, v, b)
		}
		if _, reserved := map[string]bool{"id": true, "description": true, "hash": true, "leftdelim": true, "rightdelim": true,
			"zero": true, "one": true, "two": true, "few": true, "many": true, "other": true, "translation": true}[strings.ToLower(k)]; reserved {
			t.Errorf("%q is a word go-i18n reserves: the file would not parse as messages", k)
		}
		if strings.Contains(v, "{{") && !strings.Contains(v, "{{.Keyring}}") {
			t.Errorf("%q: %q uses a template other than {{.Keyring}}", k, v)
		}
	}
}

// The Chinese follows GLOSSARY.md: the mirror (the service) is 镜像服务 and
// an image 镜像; the keyring is named per OS through {{.Keyring}}.
func TestChineseFollowsGlossary(t *testing.T) {
	_, zh := readCatalog(t, "catalog/zh-Hans.json")
	service := regexp.MustCompile(`(?i)\b(the|this|a) mirror\b`)
	for k, v := range zh {
		if service.MatchString(k) && !strings.Contains(v, "镜像服务") {
			t.Errorf("%q names the mirror, but %q does not say 镜像服务", k, v)
		}
		if strings.Contains(k, "keyring") && !strings.HasPrefix(k, "the ") && !strings.Contains(v, "{{.Keyring}}") {
			t.Errorf("%q names the keyring, but %q does not name it as the OS does ({{.Keyring}})", k, v)
		}
		for _, word := range []string{"钥匙串", "凭据管理器", "钥匙圈"} {
			if strings.Contains(v, word) && k != keyringKey("darwin") && k != keyringKey("windows") {
				t.Errorf("%q: %q names one OS's keyring; say {{.Keyring}}", k, v)
			}
		}
	}
}

// The buttons of hubmirror's dialogs have their words (issue 11: Fyne's
// own confirm dialog says 不 / 是).
func TestDialogButtonsAreTranslated(t *testing.T) {
	for _, k := range []string{"Cancel", "Delete", "Save", "Discard", "Quit", "Keep running", "OK", "Yes", "No"} {
		if got := Chinese.T(k); got == k || !hasHan(got) {
			t.Errorf("%q: %q", k, got)
		}
	}
	if Chinese.T("No") == "不" {
		t.Error(`"No" is 不`)
	}
}

// hasWords reports whether s has letters outside its format verbs.
func hasWords(s string) bool {
	for _, p := range parseFormat(s) {
		if p.verb == 0 && strings.IndexFunc(p.literal, unicode.IsLetter) >= 0 {
			return true
		}
	}
	return false
}

// hasHan reports whether s has Chinese characters.
func hasHan(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0
}

// verbs lists s's format verbs by argument, as "1:s 2:d".
func verbs(s string) string {
	var out []string
	for _, p := range parseFormat(s) {
		if p.verb != 0 {
			out = append(out, string(rune('1'+p.arg))+":"+string(p.verb))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
