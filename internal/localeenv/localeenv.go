// Package localeenv makes the locale environment readable by Fyne before
// Fyne looks at it. Import it (for its side effect) from any command that
// links Fyne.
//
// Fyne's lang package reads the POSIX locale through go-locale in its
// init() and again whenever translations are added or the system locale is
// asked for. go-locale takes the first of LC_ALL, LC_MESSAGES and LANG that
// is set (or LANGUAGE, unless that first one is exactly "C" or "POSIX"),
// keeps each entry's language and territory, and Fyne parses the result as
// a BCP 47 tag. Common values do not parse ("C.UTF-8" becomes "C",
// "de_DE@euro" becomes "de-DE@euro", "zh_CN:" has an empty entry), and Fyne
// then prints "Fyne error: Error parsing user locale C" on standard error,
// in every command.
//
// Fyne also picks the closest of its own languages (German, French, …) and
// then logs "Fyne error: Translation failure" for every hubmirror string that
// has no translation in it. hubmirror speaks English and Simplified Chinese
// (internal/i18n's catalog), so the languages Fyne is shown are those.
//
// This package's init runs before Fyne's: Go initialises packages in
// import-path order once their imports are initialised, this package imports
// only the standard library, and its path sorts before go-locale's
// (github.com/jeandeaual/go-locale), which Fyne's lang package imports. When
// the locale would not parse or names other languages, it sets LANGUAGE to
// the user's choice among hubmirror's languages, in a form that parses ("en"
// when none is left, as for the C and POSIX locales). LANGUAGE only chooses
// the language of messages, for hubmirror and for the programs it starts, so
// character sets, collation and number formats stay as the user set them.
package localeenv

import (
	"os"
	"strings"
)

func init() { normalize() }

// languages are the ones hubmirror has its words in.
var languages = map[string]bool{"en": true, "zh": true}

// normalize sets LANGUAGE when what go-locale would read does not parse or
// names a language hubmirror does not speak.
func normalize() {
	locale := ""
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if locale = os.Getenv(v); locale != "" {
			break
		}
	}
	if locale == "C" || locale == "POSIX" {
		return // go-locale reports no locale at all, and Fyne uses English
	}
	list := locale
	if languages := os.Getenv("LANGUAGE"); languages != "" {
		list = languages
	}
	if list == "" {
		return
	}
	if fixed, changed := clean(list); changed {
		_ = os.Setenv("LANGUAGE", fixed)
	}
}

// clean returns list (colon-separated POSIX locale names) with each entry
// reduced to a language and territory that parse as a BCP 47 tag, entries
// in no language of hubmirror's dropped, and "en" when none is left. changed
// is false when every entry already parsed and was in those languages.
func clean(list string) (fixed string, changed bool) {
	var out []string
	for _, entry := range strings.Split(list, ":") {
		language, territory := split(entry)
		if !valid(language, territory) {
			changed = true
		}
		if territory != "" && !isTerritory(territory) {
			territory, _, _ = strings.Cut(territory, "@")
			if !isTerritory(territory) {
				territory = ""
			}
		}
		language, _, _ = strings.Cut(language, "@")
		if !languages[strings.ToLower(language)] {
			changed = true
			continue
		}
		if territory != "" {
			language += "_" + territory
		}
		out = append(out, language)
	}
	if len(out) == 0 {
		return "en", true
	}
	return strings.Join(out, ":"), changed
}

// split does what go-locale does to a locale name: it drops the character
// set after ".", and cuts the rest at the first "_" or "-".
func split(entry string) (language, territory string) {
	entry, _, _ = strings.Cut(entry, ".")
	entry = strings.ReplaceAll(entry, "-", "_")
	language, territory, _ = strings.Cut(entry, "_")
	return language, territory
}

// valid reports whether language-territory is a tag Fyne parses; it is
// strict, so a few parseable tags are rewritten needlessly but none that
// fails is let through.
func valid(language, territory string) bool {
	return isLanguage(language) && (territory == "" || isTerritory(territory))
}

// isLanguage: an ISO 639 code, two or three letters.
func isLanguage(s string) bool { return (len(s) == 2 || len(s) == 3) && letters(s) }

// isTerritory: an ISO 3166 code (two letters), a UN M.49 area (three
// digits) or an ISO 15924 script (four letters, as in zh_Hans).
func isTerritory(s string) bool {
	switch len(s) {
	case 2, 4:
		return letters(s)
	case 3:
		return strings.Trim(s, "0123456789") == ""
	}
	return false
}

func letters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}
