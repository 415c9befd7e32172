package i18n

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDepth bounds how deep Text looks into the arguments of a recognised
// message (an error that wraps an error that wraps a field's problem).
const maxDepth = 4

// minSpecificity is how much fixed text a key with verbs needs before Text
// tries to recognise it: "%s: %s" alone would split any sentence with a
// colon in it.
const minSpecificity = 4

// Text is a message in l that may have been formatted from a catalog key:
// the key's text when msg is one, else the text of the most specific key
// with format verbs (%s, %d, %q, %v, %w) that msg is an instance of, its
// %s, %v and %w arguments in turn translated the same way and its %q and
// %d ones kept; a message of several lines is translated line by line.
// What matches no key stays as it is. The windows' tr uses it, so that an
// error or a status problem made in English reads in the user's language.
func (l Lang) Text(msg string) string {
	c, err := loaded()
	if err != nil || l == English {
		return msg
	}
	return c.text(l, msg, maxDepth)
}

// text is Text with at most depth levels of arguments.
func (c *catalog) text(l Lang, msg string, depth int) string {
	if s, ok := c.translation(l, msg); ok {
		return s
	}
	if depth == 0 || msg == "" {
		return msg
	}
	for _, p := range c.patterns {
		if m := p.re.FindStringSubmatch(msg); m != nil {
			return c.fill(l, p, m[1:], depth-1)
		}
	}
	if strings.Contains(msg, "\n") {
		lines := strings.Split(msg, "\n")
		for i, line := range lines {
			lines[i] = c.text(l, line, depth-1)
		}
		return strings.Join(lines, "\n")
	}
	// An error wrapped with a context the catalog does not know, as in
	// "/path/settings.json: line 3: …": the context, then the cause.
	if head, rest, ok := strings.Cut(msg, ": "); ok {
		return c.text(l, head, depth-1) + ": " + c.text(l, rest, depth-1)
	}
	return msg
}

// fill writes p's key in l with the arguments found in a message (one per
// capture group of p).
func (c *catalog) fill(l Lang, p *pattern, groups []string, depth int) string {
	format, _ := c.translation(l, p.key)
	var b strings.Builder
	for _, pc := range parseFormat(format) {
		if pc.verb == 0 {
			b.WriteString(pc.literal)
			continue
		}
		g := p.group(pc.arg)
		if g < 0 || g >= len(groups) {
			b.WriteString(pc.literal) // a verb the key does not have: as written
			continue
		}
		if translatable(pc.verb) {
			b.WriteString(c.text(l, groups[g], depth))
		} else {
			b.WriteString(groups[g])
		}
	}
	return b.String()
}

// translatable reports whether an argument of this verb may itself be a
// message: strings and errors are; quoted values and numbers are the
// user's or the program's data.
func translatable(verb rune) bool {
	return verb == 's' || verb == 'v' || verb == 'w'
}

// piece is a part of a format string: literal text, or a verb (then
// literal is the verb as written) that takes argument arg, counted from 0.
type piece struct {
	literal string
	verb    rune
	arg     int
}

// parseFormat splits a fmt format into literal text and verbs, with %%
// read as a literal %, and explicit argument indexes (%[2]s) as fmt reads
// them.
func parseFormat(f string) []piece {
	var out []piece
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, piece{literal: lit.String()})
			lit.Reset()
		}
	}
	next := 0
	for i := 0; i < len(f); {
		if f[i] != '%' {
			lit.WriteByte(f[i])
			i++
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			lit.WriteByte('%')
			i += 2
			continue
		}
		j := skipFlags(f, i+1)
		arg := next
		if j < len(f) && f[j] == '[' {
			if k := strings.IndexByte(f[j:], ']'); k > 0 {
				if n, err := strconv.Atoi(f[j+1 : j+k]); err == nil && n > 0 {
					arg = n - 1
				}
				j = skipFlags(f, j+k+1)
			}
		}
		if j >= len(f) {
			lit.WriteString(f[i:])
			break
		}
		verb, size := utf8.DecodeRuneInString(f[j:])
		flush()
		out = append(out, piece{literal: f[i : j+size], verb: verb, arg: arg})
		next = arg + 1
		i = j + size
	}
	flush()
	return out
}

// skipFlags returns the index after the flags, width and precision of a
// verb that start at i.
func skipFlags(f string, i int) int {
	for i < len(f) && strings.IndexByte("+-# 0123456789.*", f[i]) >= 0 {
		i++
	}
	return i
}

// pattern recognises the messages formatted from one key.
type pattern struct {
	key string
	re  *regexp.Regexp
	// args is, for each capture group, the argument it holds.
	args []int
	// specificity is how much fixed text the key has: literal runes,
	// plus the quotes of each %q and one for each number.
	specificity int
}

// group is the capture group that holds argument arg, or -1.
func (p *pattern) group(arg int) int {
	for g, a := range p.args {
		if a == arg {
			return g
		}
	}
	return -1
}

// compilePatterns makes a pattern of each key that has verbs and enough
// fixed text, most specific first.
func compilePatterns(keys []string) []*pattern {
	var out []*pattern
	for _, k := range keys {
		if p := compilePattern(k); p != nil && p.specificity >= minSpecificity {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].specificity > out[j].specificity })
	return out
}

// compilePattern is the pattern of key, or nil when key has no verbs.
func compilePattern(key string) *pattern {
	p := &pattern{key: key}
	var re strings.Builder
	re.WriteString("^")
	for _, pc := range parseFormat(key) {
		if pc.verb == 0 {
			re.WriteString(regexp.QuoteMeta(pc.literal))
			for _, r := range pc.literal {
				if !unicode.IsSpace(r) {
					p.specificity++
				}
			}
			continue
		}
		p.args = append(p.args, pc.arg)
		switch pc.verb {
		case 'q':
			re.WriteString(`("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`)")
			p.specificity += 2
		case 'd':
			re.WriteString(`([-+]?[0-9]+)`)
			p.specificity++
		default:
			re.WriteString(`(.+?)`)
		}
	}
	if len(p.args) == 0 {
		return nil
	}
	re.WriteString("$")
	compiled, err := regexp.Compile(re.String())
	if err != nil {
		return nil
	}
	p.re = compiled
	return p
}
