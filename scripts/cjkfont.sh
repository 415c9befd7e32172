#!/usr/bin/env bash
# cjkfont.sh regenerates the Chinese font subsets the windows bundle, so that
# Chinese headings are bold and Chinese text renders even where the system
# has no CJK font. Run it after adding Chinese text with characters the
# subsets lack (ui's TestCJKFontCoversTranslations names them).
#
#   scripts/cjkfont.sh
#
# Source: Noto Sans CJK SC (face 2 of NotoSansCJK-Bold.ttc and
# NotoSansCJK-Regular.ttc, Debian package fonts-noto-cjk), licensed under
# the SIL Open Font License 1.1; the licence, with the font's copyright
# line, is written to assets/fonts/OFL-NotoSansCJK.txt beside the subsets.
# Characters: GB 2312 level 1 (the 3755 most common hanzi), GB 2312 row 1
# (Chinese punctuation and symbols), CJK Symbols and Punctuation
# (U+3000-303F), the full-width forms (U+FF01-FF65, U+FFE0-FFE6), and every
# CJK character in the app's translations (internal/i18n/catalog/*.json,
# internal/i18n/catalog/*.json) and Go sources; less every character that
# Fyne's own Noto Sans already has, so Latin text keeps Fyne's font. The
# spaces are kept, and those Noto Sans CJK lacks (U+2009 and others) are
# mapped to its space: a space after a Chinese character is drawn with
# that character's font, and a missing one would show as a replacement box.
# The subsets take the line metrics of Fyne's Noto Sans, because Fyne
# measures a text's height with the font that has the space. The list is
# written to assets/fonts/cjk-chars.txt.
# Needs fonts-noto-cjk and python3-fonttools (apt-get install fonts-noto-cjk
# python3-fonttools); only this script does, not the build or the tests.
set -euo pipefail

usage() {
	sed -n '2,27s/^# \{0,1\}//p' "$0"
}

for arg in "$@"; do
	case $arg in
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "cjkfont.sh: unknown argument $arg" >&2
		usage >&2
		exit 2
		;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/assets/fonts
noto_dir=${NOTO_CJK_DIR:-/usr/share/fonts/opentype/noto}
noto_copyright=/usr/share/doc/fonts-noto-cjk/copyright
# The face of the collections that holds the Simplified Chinese glyph forms.
readonly SC_FACE=2

log() { echo "cjkfont.sh: $*" >&2; }

# python_with_fonttools prints a Python interpreter that can import
# fontTools: python3 from PATH, else the system's (a pyenv python3 on PATH
# does not see Debian's python3-fonttools).
python_with_fonttools() {
	local py
	for py in python3 /usr/bin/python3; do
		if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import fontTools' 2>/dev/null; then
			echo "$py"
			return 0
		fi
	done
	return 1
}

py=$(python_with_fonttools) || {
	log "fontTools is missing: apt-get install python3-fonttools (or pip install fonttools)"
	exit 1
}
for f in "$noto_dir/NotoSansCJK-Bold.ttc" "$noto_dir/NotoSansCJK-Regular.ttc" "$noto_copyright"; do
	[[ -r $f ]] || {
		log "$f is missing: apt-get install fonts-noto-cjk (or set NOTO_CJK_DIR)"
		exit 1
	}
done
fyne_version=$(cd "$root" && go list -m -f '{{.Version}}' fyne.io/fyne/v2)
fyne_fonts=$(go env GOMODCACHE)/fyne.io/fyne/v2@$fyne_version/theme/font
[[ -r $fyne_fonts/NotoSans-Regular.ttf ]] || {
	log "Fyne's fonts are not in the module cache: run go mod download in $root"
	exit 1
}

mkdir -p "$out"
chars=$out/cjk-chars.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unicodes=$work/unicodes.txt

# Pick the characters: the fixed sets, plus the repository's CJK text, less
# what Fyne's regular and bold Noto Sans both cover, plus the spaces.
"$py" - "$root" "$fyne_fonts" "$chars" "$unicodes" <<'EOF'
import os
import sys
import unicodedata

from fontTools.ttLib import TTFont

root, fyne_fonts, out, unicodes = sys.argv[1:5]


def gb2312(rows):
    """Returns the characters of the given GB 2312 rows (1-94)."""
    got = set()
    for row in rows:
        for cell in range(1, 95):
            try:
                got.add(bytes([0xA0 + row, 0xA0 + cell]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return got


def is_cjk(c):
    """Reports whether c is in a block a Chinese text needs from this font."""
    o = ord(c)
    return (0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0xFE30 <= o <= 0xFE4F or 0xFF00 <= o <= 0xFFEF)


def repo_text():
    """Returns the CJK characters in the translations and Go sources."""
    got = set()
    skip = {".git", "node_modules", os.path.join("assets", "fonts")}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel, d)) not in skip]
        for name in filenames:
            if not name.endswith((".go", ".json")):
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8", errors="ignore") as f:
                got.update(c for c in f.read() if is_cjk(c))
    return got


chars = gb2312([1]) | gb2312(range(16, 56)) | repo_text()
chars |= {chr(o) for o in range(0x3000, 0x3040)}
chars |= {chr(o) for o in range(0xFF01, 0xFF66)}
chars |= {chr(o) for o in range(0xFFE0, 0xFFE7)}

covered = None
for name in ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"):
    cmap = set(TTFont(os.path.join(fyne_fonts, name)).getBestCmap())
    covered = cmap if covered is None else covered & cmap
spaces = {chr(o) for o in range(0x10000) if unicodedata.category(chr(o)) == "Zs"}
chars = sorted({c for c in chars if ord(c) not in covered} | spaces)
with open(out, "w", encoding="utf-8") as f:
    for i in range(0, len(chars), 64):
        f.write("".join(chars[i:i + 64]) + "\n")
with open(unicodes, "w") as f:
    f.write("\n".join("%04X" % ord(c) for c in chars) + "\n")
print(f"{len(chars)} characters", file=sys.stderr)
EOF

# subset FACE_FILE FYNE_FONT OUTPUT writes the subset of the SC face of
# FACE_FILE, with FYNE_FONT's line metrics and every space of the list.
subset() {
	"$py" -m fontTools.subset "$1" --font-number="$SC_FACE" \
		--unicodes-file="$unicodes" --no-hinting --name-IDs='*' --name-languages='*' \
		--output-file="$3"
	"$py" - "$3" "$2" "$chars" <<'EOF'
import sys
import unicodedata

from fontTools.ttLib import TTFont

path, fyne_path, chars = sys.argv[1:4]
font, fyne = TTFont(path), TTFont(fyne_path)
if font["head"].unitsPerEm != fyne["head"].unitsPerEm:
    sys.exit("cjkfont.sh: the fonts' units per em differ; scale the metrics")
for table, fields in {
    "hhea": ("ascent", "descent", "lineGap"),
    "OS/2": ("sTypoAscender", "sTypoDescender", "sTypoLineGap", "usWinAscent", "usWinDescent"),
}.items():
    for field in fields:
        setattr(font[table], field, getattr(fyne[table], field))
space = font.getBestCmap()[0x20]
with open(chars, encoding="utf-8") as f:
    spaces = [ord(c) for c in f.read() if c != "\n" and unicodedata.category(c) == "Zs"]
for sub in font["cmap"].tables:
    if sub.isUnicode():
        for cp in spaces:
            if cp <= 0xFFFF or sub.format in (12, 13):
                sub.cmap.setdefault(cp, space)
font.save(path)
EOF
}
subset "$noto_dir/NotoSansCJK-Bold.ttc" "$fyne_fonts/NotoSans-Bold.ttf" "$out/NotoSansCJKsc-Bold-subset.otf"
subset "$noto_dir/NotoSansCJK-Regular.ttc" "$fyne_fonts/NotoSans-Regular.ttf" "$out/NotoSansCJKsc-Regular-subset.otf"

# The licence: the font's own copyright line, then the OFL text as Debian's
# copyright file carries it (indented, "." for blank lines).
{
	echo "NotoSansCJKsc-Bold-subset.otf and NotoSansCJKsc-Regular-subset.otf are"
	echo "subsets of Noto Sans CJK SC (https://github.com/notofonts/noto-cjk),"
	echo "made by scripts/cjkfont.sh. They are licensed under the SIL Open Font"
	echo "License 1.1, below."
	echo
	"$py" -c '
import sys
from fontTools.ttLib import TTCollection
notice = TTCollection(sys.argv[1]).fonts[int(sys.argv[2])]["name"].getDebugName(0)
print("Copyright " + notice.rstrip(".") + ", with Reserved Font Name \x27Source\x27.")
' "$noto_dir/NotoSansCJK-Bold.ttc" "$SC_FACE"
	echo
	# The licence text is the "License: SIL-1.1" paragraph that has a body
	# (the Files stanza names the licence without one).
	awk '/^License: SIL-1.1$/ { on = 1; next }
		on && /^ / { sub(/^ /, ""); if ($0 == ".") $0 = ""; print; body = 1; next }
		on { on = 0; if (body) exit }' "$noto_copyright"
} >"$out/OFL-NotoSansCJK.txt"

ls -l "$out"/*.otf >&2
