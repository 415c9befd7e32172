package localeenv

import (
	"bytes"
	"log"
	"os"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
)

// TestFyneReadsTheLocaleQuietly sets each locale, normalizes it, and asks
// Fyne's lang package (the real one) for the system locale and a
// translation: Fyne must log nothing, and choose the user's language.
func TestFyneReadsTheLocaleQuietly(t *testing.T) {
	for _, tc := range []struct {
		env      map[string]string
		language string // Fyne's choice
		cancel   string // Fyne's translation of "Cancel"
		unset    bool   // LANGUAGE stays as it was
	}{
		{map[string]string{}, "en", "Cancel", true},
		{map[string]string{"LANG": "C"}, "en", "Cancel", true},
		{map[string]string{"LANG": "POSIX"}, "en", "Cancel", true},
		{map[string]string{"LANG": "C.UTF-8"}, "en", "Cancel", false},
		{map[string]string{"LANG": "C.utf8"}, "en", "Cancel", false},
		{map[string]string{"LANG": "POSIX.UTF-8"}, "en", "Cancel", false},
		{map[string]string{"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "en", "Cancel", false},
		{map[string]string{"LANG": "en_US.UTF-8"}, "en", "Cancel", true},
		{map[string]string{"LANG": "zh_CN.UTF-8"}, "zh", "取消", true},
		{map[string]string{"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "C.UTF-8"}, "zh", "取消", true},
		{map[string]string{"LANG": "de_DE@euro"}, "en", "Cancel", false},
		{map[string]string{"LANG": "fr_FR.UTF-8"}, "en", "Cancel", false},
		{map[string]string{"LANG": "fr_FR.UTF-8", "LANGUAGE": "fr:zh_CN"}, "zh", "取消", false},
		{map[string]string{"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:"}, "zh", "取消", false},
		{map[string]string{"LANG": "C.UTF-8", "LANGUAGE": ":"}, "en", "Cancel", false},
	} {
		t.Run(describe(tc.env), func(t *testing.T) {
			for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"} {
				t.Setenv(v, tc.env[v])
			}
			before := os.Getenv("LANGUAGE")
			normalize()
			if got := os.Getenv("LANGUAGE"); tc.unset && got != before {
				t.Errorf("LANGUAGE changed to %q though the locale parsed", got)
			}
			var logged bytes.Buffer
			log.SetOutput(&logged)
			defer log.SetOutput(os.Stderr)
			if got := lang.SystemLocale().LanguageString(); !strings.HasPrefix(got, tc.language) {
				t.Errorf("Fyne's system locale is %q, want %s", got, tc.language)
			}
			// Adding translations makes Fyne read the locale list again and
			// pick the closest language it has.
			if err := lang.AddTranslationsForLocale([]byte(`{}`), fyne.Locale("en")); err != nil {
				t.Fatal(err)
			}
			if got := lang.L("Cancel"); got != tc.cancel {
				t.Errorf(`Fyne translates "Cancel" as %q, want %q`, got, tc.cancel)
			}
			if logged.Len() > 0 {
				t.Errorf("Fyne logged (LANGUAGE=%q):\n%s", os.Getenv("LANGUAGE"), &logged)
			}
		})
	}
}

func describe(env map[string]string) string {
	var parts []string
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"} {
		if x, ok := env[v]; ok {
			parts = append(parts, v+"="+x)
		}
	}
	if len(parts) == 0 {
		return "unset"
	}
	return strings.Join(parts, " ")
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"C", "en"},
		{"C.UTF-8", "en"},
		{"sr_RS@latin", "en"},
		{"zh_CN@pinyin", "zh_CN"},
		{"de_DE:en_GB", "en_GB"},
		{"en@quot", "en"},
		{"zh_CN.UTF-8:C:", "zh_CN"},
		{"zh-Hans-CN", "zh"},
	} {
		if got, changed := clean(tc.in); got != tc.want || !changed {
			t.Errorf("clean(%q) = %q, %v; want %q, true", tc.in, got, changed, tc.want)
		}
	}
	for _, in := range []string{"en_US.UTF-8", "zh_CN", "zh_TW:en", "en_150", "zh_Hans"} {
		if _, changed := clean(in); changed {
			t.Errorf("clean(%q) changed a locale that parses", in)
		}
	}
}

// TestLanguagesAreTheAppsOwn: the languages Fyne is let to choose are
// English and those the catalog (internal/i18n/catalog) has a file for.
func TestLanguagesAreTheAppsOwn(t *testing.T) {
	files, err := os.ReadDir("../i18n/catalog")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"en": true}
	for _, f := range files {
		name := strings.TrimSuffix(f.Name(), ".json") // e.g. zh-Hans
		language, _, _ := strings.Cut(name, "-")
		want[strings.ToLower(language)] = true
	}
	if len(want) != len(languages) {
		t.Errorf("languages %v, but the app has words in %v", languages, want)
	}
	for l := range want {
		if !languages[l] {
			t.Errorf("languages lacks %q, which the catalog has", l)
		}
	}
}
