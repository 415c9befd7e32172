package ui

import (
	"embed"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
)

// translations holds the window's and the tray's words in other languages,
// one go-i18n JSON file per language (hubmirror.zh_Hans.json: Simplified
// Chinese, named as Fyne names its own). The
// English text is the key.
//
//go:embed translations
var translations embed.FS

func init() {
	if err := lang.AddTranslationsFS(translations, "translations"); err != nil {
		fyne.LogError("load translations", err)
	}
}

// tr translates s into the system language, falling back to s.
func tr(s string) string { return lang.L(s) }
