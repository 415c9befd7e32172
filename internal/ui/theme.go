package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/hubmirror/hubmirror/assets/fonts"
)

// The bundled Chinese fonts as Fyne resources. They hold only characters
// that Fyne's Noto Sans lacks, so Fyne, which tries the theme's font first
// and then its own for each character, still draws Latin text in its own.
var (
	fontCJKRegular = fyne.NewStaticResource("NotoSansCJKsc-Regular-subset.otf", fonts.CJKRegular)
	fontCJKBold    = fyne.NewStaticResource("NotoSansCJKsc-Bold-subset.otf", fonts.CJKBold)
)

// hubTheme is Fyne's default theme with two changes: text colours that
// reach WCAG AA contrast (4.5:1) on the surfaces they are drawn on, in the
// light and the dark variant, and a bundled Chinese font, regular and bold,
// so that bold Chinese headings are bold (Fyne's fallback to a system font
// asks for the regular weight) and Chinese renders without a system CJK
// font.
type hubTheme struct {
	base fyne.Theme
}

// NewTheme returns hubmirror's theme; the app sets it with
// a.Settings().SetTheme(ui.NewTheme()).
func NewTheme() fyne.Theme {
	return &hubTheme{base: theme.DefaultTheme()}
}

// The colours that differ from Fyne's. Each text colour is chosen for at
// least 4.5:1 on every surface Fyne draws it on (see theme_test.go, which
// measures them). Primary and its relatives are fixed rather than taken from
// the user's Fyne colour preference: several preset colours (yellow, orange,
// green) cannot carry text on white, and the Focus and Selection tints
// follow Primary so text over them is measured too.
var (
	// lightColors: Fyne's #565656 text and #888888 placeholder were too
	// close once the placeholder was darkened to pass (3.2:1 on an entry),
	// so text goes to #333333 and the placeholder to #666666. The orange
	// warning (2.2:1 on white), red error (3.7:1), green success (1.5:1)
	// and blue primary (4.4:1 with white on it) are darkened.
	lightColors = map[fyne.ThemeColorName]color.Color{
		theme.ColorNameForeground:          color.NRGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff},
		theme.ColorNamePlaceHolder:         color.NRGBA{R: 0x66, G: 0x66, B: 0x66, A: 0xff},
		theme.ColorNamePrimary:             color.NRGBA{R: 0x1f, G: 0x5f, B: 0xd1, A: 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{R: 0x1f, G: 0x5f, B: 0xd1, A: 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff},
		theme.ColorNameFocus:               color.NRGBA{R: 0x1f, G: 0x5f, B: 0xd1, A: 0x2a},
		theme.ColorNameSelection:           color.NRGBA{R: 0x1f, G: 0x5f, B: 0xd1, A: 0x40},
		theme.ColorNameError:               color.NRGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff},
		theme.ColorNameForegroundOnError:   color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff},
		theme.ColorNameWarning:             color.NRGBA{R: 0xa3, G: 0x52, B: 0x00, A: 0xff},
		theme.ColorNameForegroundOnWarning: color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff},
		theme.ColorNameSuccess:             color.NRGBA{R: 0x26, G: 0x7a, B: 0x2b, A: 0xff},
		theme.ColorNameForegroundOnSuccess: color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff},
	}
	// darkColors: Fyne's blue primary is 4.1:1 on the dark background and
	// 4.4:1 under white, and its red error 3.9:1 on a dark button, so
	// both are lightened and carry dark text.
	darkColors = map[fyne.ThemeColorName]color.Color{
		theme.ColorNamePrimary:             color.NRGBA{R: 0x6e, G: 0xa1, B: 0xff, A: 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{R: 0x6e, G: 0xa1, B: 0xff, A: 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{R: 0x17, G: 0x17, B: 0x18, A: 0xff},
		theme.ColorNameFocus:               color.NRGBA{R: 0x6e, G: 0xa1, B: 0xff, A: 0x2a},
		theme.ColorNameSelection:           color.NRGBA{R: 0x6e, G: 0xa1, B: 0xff, A: 0x40},
		theme.ColorNameError:               color.NRGBA{R: 0xff, G: 0x6b, B: 0x5e, A: 0xff},
		theme.ColorNameForegroundOnError:   color.NRGBA{R: 0x17, G: 0x17, B: 0x18, A: 0xff},
	}
)

// Color returns the colour named n in variant v: ours where it differs
// from Fyne's, else Fyne's. Variants other than light are dark, as in Fyne.
func (t *hubTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	palette := darkColors
	if v == theme.VariantLight {
		palette = lightColors
	}
	if c, ok := palette[n]; ok {
		return c
	}
	return t.base.Color(n, v)
}

// Font returns the bundled Chinese font of style's weight for proportional
// text, and Fyne's font for monospace and symbol text. Fyne falls back to
// its own font of the same style for each character the Chinese font lacks
// (all of Latin), and to system fonts after that.
func (t *hubTheme) Font(style fyne.TextStyle) fyne.Resource {
	switch {
	case style.Monospace, style.Symbol:
		return t.base.Font(style)
	case style.Bold:
		return fontCJKBold
	default:
		return fontCJKRegular
	}
}

// Icon returns Fyne's icon named n.
func (t *hubTheme) Icon(n fyne.ThemeIconName) fyne.Resource {
	return t.base.Icon(n)
}

// Size returns Fyne's size named n.
func (t *hubTheme) Size(n fyne.ThemeSizeName) float32 {
	return t.base.Size(n)
}
