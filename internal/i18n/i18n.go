// Package i18n is hubmirror's one catalog of user-facing messages, for the
// windows, the command line and the landing page alike, in English and
// Simplified Chinese. A message's key is its English text; the catalog
// holds the other languages' texts for it, as go-i18n JSON files embedded
// from catalog/ (one flat {"English": "translation"} object per language,
// named by its BCP 47 tag). GLOSSARY.md fixes the Chinese terms.
//
// Text that is built in English and shown later (errors, the mirror's
// status problems) is marked with Key where it is written, so that the
// catalog's source scan finds it, and translated where it is shown with
// Lang.Text, which also recognises a message formatted from a key.
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Lang is a language of the catalog.
type Lang string

// The catalog's languages.
const (
	English Lang = "en"
	Chinese Lang = "zh-Hans"
)

// languages are the catalog's languages in the order of matchTags, English
// first: the matcher falls back to the first.
var languages = []Lang{English, Chinese}

// matcher picks the closest of the catalog's languages for a user's list.
var matcher = language.NewMatcher([]language.Tag{language.English, language.MustParse(string(Chinese))})

// files holds the translations, one JSON file per language. English, the
// language of the keys, has none.
//
//go:embed catalog/*.json
var files embed.FS

// catalog is the bundle, loaded once on first use: every message of every
// language, and the keys with format verbs that Text recognises.
type catalog struct {
	localizers map[Lang]*goi18n.Localizer
	// keys are all messages' keys, sorted.
	keys []string
	// data is what go-i18n templates in a language's texts may use:
	// {{.Keyring}}, the name of this OS's credential store.
	data map[Lang]map[string]string
	// patterns are the keys with format verbs, most specific first.
	patterns []*pattern
}

// loaded is the catalog, read from the embedded files the first time a
// message is asked for, and its error if a file does not parse (then every
// message is its English text).
var loaded = sync.OnceValues(load)

// load reads every embedded catalog file into one go-i18n bundle.
func load() (*catalog, error) {
	return loadFS(files, "catalog")
}

// loadFS reads the catalog files in dir of fsys: each NAME.json holds the
// language whose tag is NAME.
func loadFS(fsys fs.FS, dir string) (*catalog, error) {
	bundle := goi18n.NewBundle(language.English)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".json" {
			continue
		}
		raw, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read the catalog: %w", err)
		}
		mf, err := bundle.ParseMessageFileBytes(raw, e.Name())
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %w", e.Name(), err)
		}
		for _, m := range mf.Messages {
			seen[m.ID] = true
		}
	}
	c := &catalog{localizers: map[Lang]*goi18n.Localizer{}, data: map[Lang]map[string]string{}}
	for id := range seen {
		c.keys = append(c.keys, id)
	}
	sort.Strings(c.keys)
	for _, l := range languages {
		c.localizers[l] = goi18n.NewLocalizer(bundle, string(l))
	}
	for _, l := range languages {
		c.data[l] = map[string]string{"Keyring": c.lookup(l, keyringKey(runtime.GOOS), nil)}
	}
	c.patterns = compilePatterns(c.keys)
	return c, nil
}

// lookup is key's text in l with data for its template, or key itself when
// l has no text for it.
func (c *catalog) lookup(l Lang, key string, data map[string]string) string {
	loc := c.localizers[l]
	if l == English || loc == nil {
		return key
	}
	cfg := &goi18n.LocalizeConfig{MessageID: key}
	if data != nil {
		cfg.TemplateData = data
	}
	s, err := loc.Localize(cfg)
	if err != nil || s == "" {
		return key
	}
	return s
}

// translation is key's text in l, and whether the catalog has key at all:
// when it has not, the caller may try other ways (Text) before keeping the
// English.
func (c *catalog) translation(l Lang, key string) (string, bool) {
	return c.lookup(l, key, c.data[l]), c.has(key)
}

// has reports whether key is in the catalog.
func (c *catalog) has(key string) bool {
	i := sort.SearchStrings(c.keys, key)
	return i < len(c.keys) && c.keys[i] == key
}

// FromEnv is the user's language from the environment: LANGUAGE, LC_ALL,
// LC_MESSAGES, then LANG, as gettext orders them. LANGUAGE, a list, is
// ignored when the locale is C or POSIX, as gettext ignores it.
func FromEnv() Lang {
	locale := ""
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if locale = os.Getenv(v); locale != "" {
			break
		}
	}
	if list := os.Getenv("LANGUAGE"); list != "" && !isCLocale(locale) {
		return fromLocales(strings.Split(list, ":"))
	}
	return fromLocales([]string{locale})
}

// isCLocale reports whether locale is the C or POSIX locale, in which
// programs speak English whatever LANGUAGE says.
func isCLocale(locale string) bool {
	base, _, _ := strings.Cut(locale, ".")
	return base == "C" || base == "POSIX"
}

// FromLocale is the catalog's language closest to one locale name: a BCP
// 47 tag such as "zh-CN" (as Fyne reports the system's) or a POSIX one
// such as "zh_CN.UTF-8".
func FromLocale(name string) Lang {
	return fromLocales([]string{name})
}

// fromLocales matches POSIX locale names, most preferred first; ones that
// do not parse are skipped.
func fromLocales(names []string) Lang {
	var tags []language.Tag
	for _, n := range names {
		n, _, _ = strings.Cut(n, ".") // zh_CN.UTF-8: the character set
		n, _, _ = strings.Cut(n, "@") // de_DE@euro: the modifier
		if n == "" || isCLocale(n) {
			continue
		}
		n = strings.ReplaceAll(n, "_", "-")
		if t, err := language.Parse(n); err == nil {
			tags = append(tags, t)
		} else if b, err := language.ParseBase(strings.SplitN(n, "-", 2)[0]); err == nil {
			// Fyne writes the script after the region ("zh-CN-Hans"),
			// which is no tag: its language is enough.
			tags = append(tags, language.Make(b.String()))
		}
	}
	return match(tags)
}

// FromAcceptLanguage is the language a browser's Accept-Language header
// prefers among the catalog's, its q-values honoured.
func FromAcceptLanguage(header string) Lang {
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return English
	}
	return match(tags)
}

// match is the catalog's language closest to tags, most preferred first:
// the first tag that one of the catalog's languages serves well (en-GB by
// English, zh-CN by Chinese), else the first it serves at all (zh-TW, by
// simplified Chinese, which its readers read better than English), else
// English. Each tag is matched on its own: x/text's matcher, given the
// list, prefers a later exact match to an earlier close one, which would
// put "en-GB, zh;q=0.9" in Chinese.
func match(tags []language.Tag) Lang {
	fallback := English
	found := false
	for _, t := range tags {
		_, i, conf := matcher.Match(t)
		if i < 0 || i >= len(languages) || conf == language.No {
			continue
		}
		if conf >= language.High {
			return languages[i]
		}
		if !found {
			fallback, found = languages[i], true
		}
	}
	return fallback
}

// T is english in l: the catalog's text for it, or english itself.
func (l Lang) T(english string) string {
	c, err := loaded()
	if err != nil {
		return english
	}
	s, _ := c.translation(l, english)
	return s
}

// F is fmt.Sprintf of format translated into l, with args.
func (l Lang) F(format string, args ...any) string {
	return fmt.Sprintf(l.T(format), args...)
}

// Key marks english as a catalog key where it is written but not yet
// translated: an error or a status line made in English, for logs and
// tests, and translated where a person reads it (Lang.Text, tr in the
// windows). It returns english; the catalog's source scan finds its
// argument.
func Key(english string) string { return english }

// KeyringName is what l calls this OS's credential store: the GNOME or
// KDE keyring on Linux, the Keychain on macOS, the Credential Manager on
// Windows. A translation says {{.Keyring}} for it.
func KeyringName(l Lang) string {
	return l.T(keyringKey(runtime.GOOS))
}

// keyringKey is the catalog key naming the credential store of goos.
func keyringKey(goos string) string {
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		return Key("the keyring")
	case "darwin":
		return Key("the macOS Keychain")
	case "windows":
		return Key("Windows Credential Manager")
	}
	return Key("the OS keyring")
}
