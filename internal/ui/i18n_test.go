package ui

import (
	"testing"

	"fyne.io/fyne/v2/lang"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// tr speaks the system's language from the one catalog; internal/i18n's
// tests check that the catalog has every string the windows pass to tr.
func TestTrUsesTheCatalog(t *testing.T) {
	want := uiLang().T(labelSettings)
	if got := tr(labelSettings); got != want {
		t.Errorf("tr(%q) = %q, the catalog says %q", labelSettings, got, want)
	}
	if got := i18n.Chinese.T(labelSettings); got == labelSettings {
		t.Errorf("the catalog has no Chinese for %q", labelSettings)
	}
}

// Fyne's own dialogs get the catalog's Chinese for Yes, No and OK (Fyne's
// says 不 for No), and keep Fyne's for its other words.
func TestFyneWordsInChinese(t *testing.T) {
	for _, w := range fyneWords {
		if i18n.Chinese.T(w) == w {
			t.Errorf("no Chinese for Fyne's %q", w)
		}
	}
	// Fyne's localizer follows the system language, read once: run with
	// LANG=zh_CN.UTF-8 to see the Chinese.
	if uiLang() != i18n.Chinese {
		t.Skip("the system language is not Chinese")
	}
	for w, want := range map[string]string{"No": "否", "Yes": "是", "OK": "确定", "Cancel": "取消"} {
		if got := lang.L(w); got != want {
			t.Errorf("Fyne's %q is %q, want %q", w, got, want)
		}
	}
}
