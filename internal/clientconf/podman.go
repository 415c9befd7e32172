package clientconf

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// The lines that delimit hubmirror's block in a registries.conf. The BEGIN
// line is matched by its prefix, the END line whole.
const (
	beginLine = "# BEGIN hubmirror: written by hubmirror setup podman --apply; hubmirror setup podman --undo removes this block"
	endLine   = "# END hubmirror"
	// madeLine, right after the BEGIN line, says the file did not exist
	// before: --undo then removes the file when nothing else changed.
	madeLine = "# hubmirror made this file: --undo removes it while the rest is unchanged"
)

// beginPrefix identifies a BEGIN line whatever follows it.
const beginPrefix = "# BEGIN hubmirror"

// block is where hubmirror's block sits in a registries.conf.
type block struct {
	start, end int // byte offsets: data[start:end] is the block, its END line's newline included
	made       bool
	found      bool
}

// findBlock finds the one block in data. A BEGIN without an END, or a
// second block, is an error naming the line.
func findBlock(data string) (block, error) {
	var b block
	off, beginAt := 0, 0
	for i, line := range strings.SplitAfter(data, "\n") {
		text := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(text, beginPrefix):
			if b.found || beginAt > 0 {
				return block{}, fmt.Errorf(i18n.Key("line %d: a second %q block"), i+1, beginPrefix)
			}
			b.start, beginAt = off, i+1
		case beginAt > 0 && !b.found && text == madeLine && i == beginAt:
			b.made = true
		case beginAt > 0 && !b.found && text == endLine:
			b.end, b.found = off+len(line), true
		}
		off += len(line)
	}
	if beginAt > 0 && !b.found {
		return block{}, fmt.Errorf(i18n.Key("line %d: %q without %q"), beginAt, beginPrefix, endLine)
	}
	return b, nil
}

// podmanBlock is entries inside the delimiting lines.
func podmanBlock(entries string, made bool) string {
	head := beginLine + "\n"
	if made {
		head += madeLine + "\n"
	}
	if !strings.HasSuffix(entries, "\n") {
		entries += "\n"
	}
	return head + entries + endLine + "\n"
}

// ApplyPodman is old (a registries.conf, possibly empty) with entries
// (the [[registry]] tables of the podman snippet) in hubmirror's block:
// the block replaced where it is, or appended after a blank line. made
// says the file did not exist (old is then what it starts from), which the
// block records for UndoPodman. Everything outside the block stays, comments
// included. The result must parse, and the user's part must not define a
// registry the block defines too (containers/image refuses the file): that
// is an error naming the line, as is bad TOML.
func ApplyPodman(old []byte, entries string, made bool) ([]byte, error) {
	data := string(old)
	b, err := findBlock(data)
	if err != nil {
		return nil, err
	}
	if b.found {
		made = b.made // keep what the first apply knew
	}
	if err := checkUserPart(data, b, entries); err != nil {
		return nil, err
	}
	var out string
	switch {
	case b.found:
		out = data[:b.start] + podmanBlock(entries, made) + data[b.end:]
	case isBlank(old):
		out = data + podmanBlock(entries, made)
	default:
		if !strings.HasSuffix(data, "\n") {
			data += "\n"
		}
		out = data + "\n" + podmanBlock(entries, made)
	}
	if _, err := toml.Decode(out, new(registriesConf)); err != nil {
		return nil, tomlError(err)
	}
	return []byte(out), nil
}

// UndoPodman is cur without hubmirror's block and the blank line
// ApplyPodman put before it. found says there was a block; made says
// ApplyPodman made the file, which the caller removes when what is left
// is what it started from.
func UndoPodman(cur []byte) (out []byte, found, made bool, err error) {
	data := string(cur)
	b, err := findBlock(data)
	if err != nil || !b.found {
		return cur, false, false, err
	}
	before := data[:b.start]
	if strings.HasSuffix(before, "\n\n") {
		before = before[:len(before)-1]
	}
	return []byte(before + data[b.end:]), true, b.made, nil
}

// registriesConf is the part of registries.conf the checks read.
type registriesConf struct {
	Registry []struct {
		Prefix   string `toml:"prefix"`
		Location string `toml:"location"`
	} `toml:"registry"`
	// Registries is the old v1 format's table, which containers/image
	// refuses to mix with [[registry]].
	Registries map[string]any `toml:"registries"`
}

// prefixes are the registries conf defines, each by its prefix (its
// location when it has none, as containers/image reads it).
func (c registriesConf) prefixes() []string {
	var out []string
	for _, r := range c.Registry {
		p := r.Prefix
		if p == "" {
			p = r.Location
		}
		out = append(out, p)
	}
	return out
}

// checkUserPart checks that the user's part of data, outside hubmirror's
// block b, parses and defines none of the registries entries does. Lines
// are counted in data, as the user's editor shows them.
func checkUserPart(data string, b block, entries string) error {
	rest := data
	if b.found {
		rest = data[:b.start] + data[b.end:]
	}
	var user, ours registriesConf
	if _, err := toml.Decode(rest, &user); err != nil {
		return tomlError(err)
	}
	if _, err := toml.Decode(entries, &ours); err != nil {
		return fmt.Errorf(i18n.Key("the mirror's entries: %w"), tomlError(err))
	}
	if user.Registries != nil {
		return fmt.Errorf(i18n.Key("line %d: the file uses the old [registries.search] format (version 1), which cannot be mixed with [[registry]] tables: convert it first"),
			max(1, tableLine([]byte(data), "registries.search"), tableLine([]byte(data), "registries.insecure"), tableLine([]byte(data), "registries.block")))
	}
	lines := registryLines(data, b)
	for i, p := range user.prefixes() {
		for _, q := range ours.prefixes() {
			if p != q {
				continue
			}
			line := 0
			if len(lines) == len(user.Registry) {
				line = lines[i]
			}
			return fmt.Errorf(i18n.Key("line %d: [[registry]] %q is already there; podman refuses a registry defined twice: remove that table, or the block, first"), line, p)
		}
	}
	return nil
}

// registryLines are the lines of data's [[registry]] headers outside the
// block b, in order.
func registryLines(data string, b block) []int {
	var out []int
	off := 0
	for i, line := range strings.SplitAfter(data, "\n") {
		inBlock := b.found && off >= b.start && off < b.end
		off += len(line)
		if !inBlock && strings.ReplaceAll(strings.TrimSpace(line), " ", "") == "[[registry]]" {
			out = append(out, i+1)
		}
	}
	return out
}
