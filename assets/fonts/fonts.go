// Package fonts holds the Chinese fonts the windows bundle: subsets of Noto
// Sans CJK SC, regular and bold, made by scripts/cjkfont.sh and licensed
// under the SIL Open Font License 1.1 (OFL-NotoSansCJK.txt). They hold only
// the characters Fyne's own Noto Sans lacks (cjk-chars.txt lists them), so a
// theme can put them first for their style and Latin text still falls
// through to Fyne's font. Like package assets, it does not import Fyne.
package fonts

import _ "embed"

// CJKRegular is Noto Sans CJK SC Regular, subset.
//
//go:embed NotoSansCJKsc-Regular-subset.otf
var CJKRegular []byte

// CJKBold is Noto Sans CJK SC Bold, subset: Fyne's fallback to a system
// font for characters its own font lacks asks for the regular weight, so
// without this bold Chinese text renders regular.
//
//go:embed NotoSansCJKsc-Bold-subset.otf
var CJKBold []byte

// Chars lists the characters of both subsets, 64 to a line.
//
//go:embed cjk-chars.txt
var Chars string
