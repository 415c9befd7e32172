package cli

import (
	"flag"
	"slices"
	"strings"
)

// newFlagSet is a command's flag set, writing its help and its errors to
// e's stderr. Parse returns its errors, having printed them with the
// usage; the command's exec turns them into errFlags.
func newFlagSet(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(strings.TrimSpace(name), flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseAnywhere parses args into fs with the flags anywhere among the
// arguments, as docker, kubectl and crane read them: `hubmirror pin add
// alpine:3.20 --config F` is the image and a flag, not two images. "--"
// ends the flags; what follows it is arguments, even when it starts with
// a dash.
func parseAnywhere(fs *flag.FlagSet, args []string) error {
	return fs.Parse(interspersed(fs, args))
}

// interspersed reorders args so that the standard flag package, which
// stops at the first argument, sees them all: every flag with its value
// first, then "--" and the arguments in their order. Whether a flag takes
// the next word as its value is fs's to say (a bool flag does not). When
// the last flag lacks its value, the arguments are left out, so that Parse
// reports the missing value rather than take "--" for it.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case len(a) < 2 || a[0] != '-': // "-" alone is an argument, as for flag.Parse
			rest = append(rest, a)
		case takesValue(fs, a):
			if i+1 == len(args) {
				return append(flags, a)
			}
			flags = append(flags, a, args[i+1])
			i++
		default:
			flags = append(flags, a)
		}
	}
	return append(append(flags, "--"), rest...)
}

// withoutFirstArg is args without the first argument that is not a flag
// or a flag's value, as parseAnywhere reads them (setup's client): the
// rest of the line in its order.
func withoutFirstArg(fs *flag.FlagSet, args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return slices.Delete(slices.Clone(args), i+1, i+2)
			}
			return args
		case len(a) < 2 || a[0] != '-':
			return slices.Delete(slices.Clone(args), i, i+1)
		case takesValue(fs, a):
			i++
		}
	}
	return args
}

// takesValue reports whether the flag arg ("-name" or "--name") is one of
// fs's that reads the next word as its value: not a bool flag, and not
// written with its value as --name=value. An unknown flag takes none;
// Parse reports it.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// stringList collects a repeated string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
