package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"golang.org/x/text/width"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// helpColumn is where help's summaries start, after "  " and a usage
// line: a longer line puts its summary on the next line, indented as far.
const helpColumn = 29

// writeHelp writes `hubmirror help` in l: every command of the table but
// the hidden ones, each form a usage line and its summary, then the flags
// of the mirror itself (hubmirror and hubmirror serve).
func writeHelp(w io.Writer, l i18n.Lang) {
	fmt.Fprintf(w, "%s\n\n%s\n", l.T("hubmirror: a local pull-through mirror of Docker Hub"), l.T("Usage:"))
	for _, c := range commands() {
		if c.hidden {
			continue
		}
		for _, f := range c.forms {
			line := "  " + l.T(f.usage)
			if pad := helpColumn - displayWidth(line); pad >= 2 {
				fmt.Fprintf(w, "%s%s%s\n", line, strings.Repeat(" ", pad), l.T(f.summary))
			} else {
				fmt.Fprintf(w, "%s\n%s%s\n", line, strings.Repeat(" ", helpColumn), l.T(f.summary))
			}
		}
	}
	fs := newFlagSet("hubmirror", &env{stderr: io.Discard, lang: l})
	serveFlags(fs, nil)
	fmt.Fprintf(w, "\n%s\n", l.T("Flags of hubmirror and hubmirror serve:"))
	writeFlags(w, l, fs)
	fmt.Fprintf(w, "\n%s\n", l.T(`Run "hubmirror COMMAND --help" for the flags of each command.`))
}

// usageLines are c's usage lines in l, as `hubmirror CMD --help` and a
// usage error begin: "usage: " before the first form, "or: " before each
// other one, the forms aligned.
func (c *command) usageLines(l i18n.Lang) string {
	first, other := l.T("usage: %s"), l.T("or: %s")
	pad := ""
	if a, b := strings.Index(first, "%s"), strings.Index(other, "%s"); a >= 0 && b >= 0 {
		if n := displayWidth(first[:a]) - displayWidth(other[:b]); n > 0 {
			pad = strings.Repeat(" ", n)
		}
	}
	var b strings.Builder
	for i, f := range c.forms {
		if i == 0 {
			b.WriteString(fmt.Sprintf(first, l.T(f.usage)))
			continue
		}
		b.WriteString("\n" + pad + fmt.Sprintf(other, l.T(f.usage)))
	}
	return b.String()
}

// writeUsage is c's help, printed for -h and --help and after a flag
// error: its usage lines, its note, and its flags; for hubmirror alone,
// the whole of `hubmirror help`.
func (c *command) writeUsage(w io.Writer, l i18n.Lang, fs *flag.FlagSet) {
	if c.name == "" {
		writeHelp(w, l)
		return
	}
	fmt.Fprintln(w, c.usageLines(l))
	if c.note != "" {
		fmt.Fprintf(w, "\n%s\n", l.T(c.note))
	}
	if !hasFlags(fs) {
		return
	}
	fmt.Fprintf(w, "\n%s\n", l.T("Flags:"))
	writeFlags(w, l, fs)
}

// hasFlags reports whether fs has any flag.
func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// writeFlags writes fs's flags, one a line: --name VALUE and what it does
// (in l), in a column, with the default where it is not the zero value.
func writeFlags(w io.Writer, l i18n.Lang, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		// "--upstream REGISTRY=URL", not "--upstream REGISTRY=URL  REGISTRY=URL: send…".
		help := l.Text(strings.TrimPrefix(f.Usage, flagValueName(f)+": "))
		if showDefault(f) {
			help += " " + l.F("(default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", flagSyntax(f), help)
	})
	_ = tw.Flush()
}

// showDefault reports whether the usage adds f's default to its help:
// when the help does not say it already and it is not an empty value.
func showDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "[]", "map[]":
		return false
	}
	return !strings.Contains(f.Usage, "(default")
}

// flagSyntax is how the usage writes flag f: "--listen HOST:PORT",
// "--self-auth" for a bool flag, "-u USER" for a one-letter one.
func flagSyntax(f *flag.Flag) string {
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return dash + f.Name
	}
	return dash + f.Name + " " + flagValueName(f)
}

// flagValueName is the word that stands for a flag's value in the usage:
// the usage lines' words for the flags they name, else Go's (the
// back-quoted word of the help, or the value's type), in capitals.
func flagValueName(f *flag.Flag) string {
	switch f.Name {
	case "listen", "host":
		return "HOST:PORT"
	case "cache-dir", "dir":
		return "DIR"
	case "cache-max", "to", "store-max":
		return "SIZE"
	case "store":
		return "URL"
	case "upstream-ca":
		return "FILE"
	case "download-connections":
		return "N"
	case "config":
		return "FILE"
	case "file", "containerd-config":
		return "PATH"
	case "upstream":
		return "REGISTRY=URL"
	case "alias":
		return "HOST=REGISTRY"
	case "allow-user":
		return "NAME"
	case "tls":
		return "off|auto"
	case "platform":
		return "OS/ARCH"
	case "u", "username":
		return "USER"
	}
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		name = "value"
	}
	return strings.ToUpper(name)
}

// displayWidth is how many columns s takes on a terminal: two for a wide
// character (Chinese, full-width punctuation), one for any other.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
