package ui

import (
	"encoding/json"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// uiLang is the language of the windows and the tray: the system's, as
// Fyne reads it (the OS's preferences on macOS and Windows, the locale
// environment elsewhere), matched to the catalog's. It is read once.
var uiLang = sync.OnceValue(func() i18n.Lang {
	return i18n.FromLocale(lang.SystemLocale().String())
})

// tr translates s into the system language from hubmirror's one catalog
// (internal/i18n), falling back to s. s is the English text; a message
// formatted from a catalog key, such as an upstream problem or an error
// from the settings, is recognised and translated too (i18n.Lang.Text).
func tr(s string) string { return uiLang().Text(s) }

// fyneWords are words of Fyne's own dialogs whose Chinese in Fyne reads
// badly (its confirm dialog says 不 / 是, its OK button 好); the catalog's
// words replace them. hubmirror's own dialogs name their buttons with tr.
var fyneWords = []string{i18n.Key("Yes"), i18n.Key("No"), i18n.Key("OK")}

// init gives Fyne the catalog's Chinese for fyneWords. Fyne keeps its own
// translations of every other built-in string (the folder picker's,
// Cancel, …).
func init() {
	words := map[string]string{}
	for _, w := range fyneWords {
		words[w] = i18n.Chinese.T(w)
	}
	data, err := json.Marshal(words)
	if err == nil {
		err = lang.AddTranslationsForLocale(data, fyne.Locale(i18n.Chinese))
	}
	if err != nil {
		fyne.LogError("load translations of Fyne's words", err)
	}
}
