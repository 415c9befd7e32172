package ui

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/hubmirror/hubmirror/assets/fonts"
)

// surface is what text is drawn on: an opaque colour, with an optional
// translucent one laid over it (a hover, focus or selection tint).
type surface struct {
	base, over fyne.ThemeColorName
}

// String names the surface for failure messages.
func (s surface) String() string {
	if s.over == "" {
		return string(s.base)
	}
	return string(s.over) + " over " + string(s.base)
}

// textOn pairs a text colour with every surface Fyne's widgets draw it on.
type textOn struct {
	text fyne.ThemeColorName
	on   []surface
}

// plain turns colour names into surfaces without a tint.
func plain(names ...fyne.ThemeColorName) []surface {
	s := make([]surface, len(names))
	for i, n := range names {
		s[i] = surface{base: n}
	}
	return s
}

// tinted lays the tint over each of the named surfaces.
func tinted(tint fyne.ThemeColorName, names ...fyne.ThemeColorName) []surface {
	s := make([]surface, len(names))
	for i, n := range names {
		s[i] = surface{base: n, over: tint}
	}
	return s
}

// textColors lists the text colours the app's widgets use (labels of each
// importance, entries, buttons of each importance, hyperlinks, tabs,
// menus, dialogs, forms, lists) and what Fyne v2.7 draws each on, read off
// its widget renderers. Disabled text is left out: WCAG exempts inactive
// controls. Each hover, focus or selection tint is measured over the
// surface it tints.
func textColors() []textOn {
	surfaces := []fyne.ThemeColorName{
		theme.ColorNameBackground, theme.ColorNameButton, theme.ColorNameInputBackground,
		theme.ColorNameMenuBackground, theme.ColorNameOverlayBackground, theme.ColorNameHeaderBackground,
	}
	var fg []surface
	fg = append(fg, plain(surfaces...)...)
	fg = append(fg, tinted(theme.ColorNameHover, surfaces...)...)
	fg = append(fg, tinted(theme.ColorNameFocus, theme.ColorNameBackground, theme.ColorNameMenuBackground, theme.ColorNameButton)...)
	fg = append(fg, tinted(theme.ColorNameSelection, theme.ColorNameBackground, theme.ColorNameOverlayBackground)...)
	// Coloured label text, hyperlinks and the selected tab's label sit on
	// the window, a dialog or a hovered tab.
	onWindow := append(plain(theme.ColorNameBackground, theme.ColorNameOverlayBackground),
		surface{base: theme.ColorNameBackground, over: theme.ColorNameHover})
	// A button of an importance: its label on its fill, plain or hovered.
	onFill := func(fill fyne.ThemeColorName) []surface {
		return []surface{{base: fill}, {base: fill, over: theme.ColorNameHover}, {base: fill, over: theme.ColorNameFocus}}
	}
	return []textOn{
		{theme.ColorNameForeground, fg},
		{theme.ColorNamePlaceHolder, plain(theme.ColorNameInputBackground, theme.ColorNameBackground, theme.ColorNameOverlayBackground)},
		{theme.ColorNameHyperlink, onWindow},
		{theme.ColorNamePrimary, onWindow},
		{theme.ColorNameError, append(onWindow, plain(theme.ColorNameInputBackground)...)},
		{theme.ColorNameWarning, onWindow},
		{theme.ColorNameSuccess, onWindow},
		{theme.ColorNameForegroundOnPrimary, onFill(theme.ColorNamePrimary)},
		{theme.ColorNameForegroundOnError, onFill(theme.ColorNameError)},
		{theme.ColorNameForegroundOnWarning, onFill(theme.ColorNameWarning)},
		{theme.ColorNameForegroundOnSuccess, onFill(theme.ColorNameSuccess)},
	}
}

// linear is an sRGB channel (0-1) made linear, as WCAG 2.x defines it.
func linear(c float64) float64 {
	if c <= 0.04045 {
		return c / 12.92
	}
	return math.Pow((c+0.055)/1.055, 2.4)
}

// luminance is c's relative luminance per WCAG 2.x; c must be opaque.
func luminance(c color.NRGBA) float64 {
	return 0.2126*linear(float64(c.R)/255) + 0.7152*linear(float64(c.G)/255) + 0.0722*linear(float64(c.B)/255)
}

// contrast is the WCAG contrast ratio of two opaque colours, 1 to 21.
func contrast(a, b color.NRGBA) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// over composites c over the opaque colour under, as a painter blends it
// in sRGB.
func over(c, under color.NRGBA) color.NRGBA {
	a := float64(c.A) / 255
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*a + float64(y)*(1-a))) }
	return color.NRGBA{R: mix(c.R, under.R), G: mix(c.G, under.G), B: mix(c.B, under.B), A: 0xff}
}

// nrgba is th's colour n in v as non-premultiplied RGBA.
func nrgba(th fyne.Theme, n fyne.ThemeColorName, v fyne.ThemeVariant) color.NRGBA {
	return color.NRGBAModel.Convert(th.Color(n, v)).(color.NRGBA)
}

// contrastFailures lists each text colour and surface of th in v whose
// contrast is under WCAG AA's 4.5:1 for normal text.
func contrastFailures(th fyne.Theme, v fyne.ThemeVariant) []string {
	const aa = 4.5
	var failed []string
	for _, tc := range textColors() {
		for _, s := range tc.on {
			bg := over(nrgba(th, s.base, v), color.NRGBA{A: 0xff})
			if s.over != "" {
				bg = over(nrgba(th, s.over, v), bg)
			}
			fg := over(nrgba(th, tc.text, v), bg)
			if r := contrast(fg, bg); r < aa {
				failed = append(failed, fmt.Sprintf("%s on %s: %.2f:1", tc.text, s, r))
			}
		}
	}
	return failed
}

// variants are the theme variants the app shows, by name.
var variants = map[string]fyne.ThemeVariant{"light": theme.VariantLight, "dark": theme.VariantDark}

func TestContrastMeetsWCAGAA(t *testing.T) {
	test.NewTempApp(t)
	th := NewTheme()
	for name, v := range variants {
		for _, f := range contrastFailures(th, v) {
			t.Errorf("%s theme: %s, want at least 4.5:1", name, f)
		}
	}
}

// TestContrastCheckFailsFyneDefault feeds the check Fyne's own theme, whose
// light orange warning text has 2.2:1 on white: the check must see it.
func TestContrastCheckFailsFyneDefault(t *testing.T) {
	test.NewTempApp(t)
	failed := contrastFailures(theme.DefaultTheme(), theme.VariantLight)
	want := "warning on background: 2.1"
	if !strings.Contains(strings.Join(failed, "\n"), want) {
		t.Errorf("Fyne's light theme: failures %q lack %q", failed, want)
	}
	if len(contrastFailures(theme.DefaultTheme(), theme.VariantDark)) == 0 {
		t.Error("Fyne's dark theme passes; its blue primary (4.1:1 on the background) should not")
	}
}

func TestContrastRatioKnownValues(t *testing.T) {
	black, white := color.NRGBA{A: 0xff}, color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	grey := color.NRGBA{R: 0x76, G: 0x76, B: 0x76, A: 0xff} // the lightest grey that passes on white
	for _, c := range []struct {
		a, b color.NRGBA
		want float64
	}{{black, white, 21}, {white, white, 1}, {grey, white, 4.54}} {
		if got := contrast(c.a, c.b); math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%v, %v) = %.3f, want %.2f", c.a, c.b, got, c.want)
		}
	}
	half := over(color.NRGBA{A: 0x80}, white)
	if half.R != 0x7f {
		t.Errorf("half black over white = %v, want R 0x7f", half)
	}
}

// ink renders s in style with th as the app theme, black on the theme's
// background, and sums how far each pixel is from the background: the
// heavier the strokes, the more ink.
func ink(t *testing.T, th fyne.Theme, s string, style fyne.TextStyle) (total float64, img image.Image) {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(th)
	text := canvas.NewText(s, color.Black)
	text.TextStyle = style
	text.TextSize = 24
	w := test.NewWindow(text)
	defer w.Close()
	w.SetPadded(false)
	w.Resize(fyne.NewSize(400, 60))
	img = w.Canvas().Capture()
	bg := img.At(img.Bounds().Max.X-1, img.Bounds().Max.Y-1)
	br, bgg, bb, _ := bg.RGBA()
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			total += math.Abs(float64(r)-float64(br)) + math.Abs(float64(g)-float64(bgg)) + math.Abs(float64(b)-float64(bb))
		}
	}
	return total / (3 * 0xffff), img
}

// sample is Chinese text as the settings window shows it in a heading.
const sample = "镜像服务设置"

func TestChineseBoldHasMoreInkThanRegular(t *testing.T) {
	regular, _ := ink(t, NewTheme(), sample, fyne.TextStyle{})
	bold, _ := ink(t, NewTheme(), sample, fyne.TextStyle{Bold: true})
	t.Logf("ink: regular %.0f, bold %.0f (%.2f×)", regular, bold, bold/regular)
	if regular == 0 {
		t.Fatal("regular Chinese text drew nothing")
	}
	// Noto Sans CJK Bold's strokes are about half as heavy again as the
	// regular's; a synthetic or missing bold gives 1.0.
	if bold < 1.25*regular {
		t.Errorf("bold Chinese has %.0f ink, regular %.0f: want bold at least 1.25× regular", bold, regular)
	}
}

func TestChineseIsNotReplacementGlyphs(t *testing.T) {
	// Two different strings of the same length must not draw alike, as
	// they would if every character were the same missing-glyph box.
	a, imgA := ink(t, NewTheme(), "镜像服务", fyne.TextStyle{Bold: true})
	b, imgB := ink(t, NewTheme(), "设置缓存", fyne.TextStyle{Bold: true})
	if a == b || sameImage(imgA, imgB) {
		t.Errorf("two different Chinese strings drew alike (ink %.0f, %.0f): missing glyphs?", a, b)
	}
}

func TestSpaceAfterChineseDrawsNoBox(t *testing.T) {
	// A space takes the font of the character before it, so after a Chinese
	// character it is drawn with the bundled font: were it missing there,
	// Fyne would draw a replacement box, and the text would gain ink.
	for _, style := range []fyne.TextStyle{{}, {Bold: true}} {
		bare, _ := ink(t, NewTheme(), "镜像服务", style)
		for _, space := range []string{" ", "\u00a0", "\u2009", "\u3000"} {
			spaced, _ := ink(t, NewTheme(), "镜像"+space+"服务", style)
			if math.Abs(spaced-bare) > 0.03*bare {
				t.Errorf("style %+v: %q has %.0f ink, without the space %.0f: the space draws something", style, "镜像"+space+"服务", spaced, bare)
			}
		}
	}
}

func TestLatinKeepsFynesFont(t *testing.T) {
	for _, style := range []fyne.TextStyle{{}, {Bold: true}, {Italic: true}} {
		_, ours := ink(t, NewTheme(), "Settings 127.0.0.1:5000", style)
		_, fynes := ink(t, theme.DefaultTheme(), "Settings 127.0.0.1:5000", style)
		if !sameImage(ours, fynes) {
			t.Errorf("style %+v: Latin text renders differently from Fyne's font", style)
		}
	}
}

// sameImage reports whether a and b have the same size and pixels.
func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}

// needsCJKFont reports whether r is a character the bundled font, not
// Fyne's, has to draw: a hanzi, CJK punctuation or a full-width form.
func needsCJKFont(r rune) bool {
	return unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef)
}

// translatedTexts returns the Chinese texts of the GUI's translations and
// of the shared catalog (when it exists yet), by file.
func translatedTexts(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob("translations/*.json")
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := filepath.Glob("../i18n/catalog/*.json")
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string][]string{}
	for _, f := range append(files, catalog...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// A flat object of strings, or go-i18n's {"id": {"other": ...}}:
		// take every string anywhere in it.
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		texts[f] = allStrings(v, nil)
	}
	return texts
}

// allStrings appends every string in the decoded JSON value v to into.
func allStrings(v any, into []string) []string {
	switch v := v.(type) {
	case string:
		into = append(into, v)
	case []any:
		for _, e := range v {
			into = allStrings(e, into)
		}
	case map[string]any:
		for _, e := range v {
			into = allStrings(e, into)
		}
	}
	return into
}

func TestCJKFontCoversTranslations(t *testing.T) {
	have := map[rune]bool{}
	for _, r := range fonts.Chars {
		have[r] = true
	}
	texts := translatedTexts(t)
	if len(texts) == 0 {
		t.Fatal("found no translation files")
	}
	for file, ss := range texts {
		missing := map[rune]bool{}
		for _, s := range ss {
			for _, r := range s {
				if needsCJKFont(r) && !have[r] {
					missing[r] = true
				}
			}
		}
		if len(missing) > 0 {
			var rs []rune
			for r := range missing {
				rs = append(rs, r)
			}
			t.Errorf("%s uses %q, which the bundled Chinese font lacks: run scripts/cjkfont.sh", file, string(rs))
		}
	}
}
