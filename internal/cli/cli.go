// Package cli is hubmirror's command line: one table of commands (serve,
// login, logout, setup, cache, pin, prefetch, version, help and the
// desktop app's window process), from which the dispatch, `hubmirror
// help`, the usage errors and every `hubmirror CMD --help` are made.
// Flags may come anywhere on the line. A command returns an error, which
// the dispatch prints and turns into the exit status that Main returns to
// package main: 0, 1 when the command failed, 2 for a mistake in the
// command line itself (an unknown command, a flag it does not have).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// Main runs the command line args (os.Args[1:]) and returns the exit
// status. exit (os.Exit; not nil) ends the process at once with a status;
// only the desktop app uses it (see desktop.Options.Exit), for a Quit
// that comes while the tray or Fyne's event loop holds the main goroutine.
func Main(args []string, exit func(code int)) int {
	return run(&env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		lang: i18n.FromEnv(), goos: runtime.GOOS, exit: exit}, args)
}

// env is what a command runs with: its standard streams, the user's
// language and OS, and how the process ends at once. Tests make their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lang           i18n.Lang
	// goos is the OS that setup writes the configuration for.
	goos string
	// machine, when set, is the computer `setup --apply` changes instead
	// of this one (thisMachine(goos)).
	machine *machine
	exit    func(code int)
	// args are the command's arguments as typed, after its name, for a
	// command that repeats them (setup, in the sudo line it suggests).
	args []string
}

// run dispatches args to the command its first word names, or to the
// desktop app (the command "") when the first word is a flag or there is
// none, and returns the exit status.
func run(e *env, args []string) int {
	name := ""
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "hubmirror: %s\n\n", e.lang.F("unknown command %q", name))
		writeHelp(e.stderr, e.lang)
		return 2
	}
	return c.main(e, args)
}

// A command is one row of the command table.
type command struct {
	// name is the word after hubmirror; "" for hubmirror alone.
	name string
	// forms are the ways to write the command, each a usage line and the
	// one line `hubmirror help` says it does; the first is the main one.
	forms []form
	// note, when not "", is said under the usage lines of `hubmirror CMD
	// --help`.
	note string
	// hidden is for a command hubmirror starts itself (window): help does
	// not list it.
	hidden bool
	// flags builds the command's flag set: it registers the flags on fs
	// and returns the command's run func, which runs it with what is left
	// of the line once fs has parsed it, writing to and reading from e.
	flags func(fs *flag.FlagSet, e *env) (run func(args []string) error)
}

// form is one usage line of a command and what it does.
type form struct {
	usage, summary string
}

// commands is the command table, in the order help lists it. Its texts
// are catalog keys (i18n.Key), written in English and shown in the user's
// language; a usage line with no word to translate is written as it is.
func commands() []*command {
	return []*command{
		{name: "", forms: []form{{i18n.Key("hubmirror [flags]"),
			i18n.Key("run the mirror (the tray app, where there is a display)")}}, flags: appFlags},
		{name: "serve", forms: []form{{i18n.Key("hubmirror serve [flags]"),
			i18n.Key("run the mirror headless")}}, flags: serveFlags},
		{name: "login", forms: []form{{i18n.Key("hubmirror login [REGISTRY] -u USER --password-stdin"),
			i18n.Key("check an account with the registry, then keep it in the OS keyring")},
			{i18n.Key("hubmirror login s3://BUCKET/PREFIX?endpoint=URL [-u ACCESS_KEY_ID --password-stdin]"),
				i18n.Key("check an object store's keys, then keep them in the OS keyring for --store")}},
			note:  i18n.Key(`The password or access token comes on standard input: echo "$TOKEN" | hubmirror login -u USER --password-stdin`),
			flags: loginFlags},
		{name: "logout", forms: []form{{i18n.Key("hubmirror logout [REGISTRY | s3://BUCKET/PREFIX?endpoint=URL]"),
			i18n.Key("remove a registry's account, or an object store's keys, from the OS keyring")}}, flags: logoutFlags},
		{name: "setup", forms: []form{
			{i18n.Key("hubmirror setup docker|containerd|podman|k3s|kind|pull [--host HOST:PORT] [--vm|--native]"),
				i18n.Key("print the configuration that points a client at the mirror")},
			{i18n.Key("hubmirror setup docker|containerd|podman --apply|--undo [--file PATH] [--dir DIR]"),
				i18n.Key("write that configuration into the client's files, or take it out again")},
			{"hubmirror setup ca",
				i18n.Key("print the mirror's local CA certificate (PEM), for clients to trust")},
		}, flags: setupFlags},
		{name: "cache", forms: []form{{i18n.Key("hubmirror cache ls | prune --to SIZE [--grace DURATION] | verify | clear [--yes]"),
			i18n.Key("list, shrink, check or empty the cache (through the running mirror, if one runs); with a store, prune shrinks the store")}}, flags: cacheFlags},
		{name: "pin", forms: []form{{i18n.Key("hubmirror pin add|rm|ls [IMAGE...]"),
			i18n.Key("keep images whole, never evicted, refreshed when their tags move")}}, flags: pinFlags},
		{name: "prefetch", forms: []form{{i18n.Key("hubmirror prefetch [--platform OS/ARCH] IMAGE..."),
			i18n.Key("download images into the cache ahead of time (before a trip)")}}, flags: prefetchFlags},
		{name: "version", forms: []form{{"hubmirror version", i18n.Key("print the version")}}, flags: versionFlags},
		{name: "help", forms: []form{{"hubmirror help", i18n.Key("print this help")}}, flags: helpFlags},
		{name: "window", hidden: true, forms: []form{{"hubmirror window [--tray-shown=false]",
			i18n.Key("the desktop app's windows (the app starts this itself)")}}, flags: windowFlags},
	}
}

// lookup is the command called name, or nil.
func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// errUsage is a command line that lacks what the command needs (a
// subcommand, an image): main prints the command's usage lines and exits
// with status 1.
type errUsage struct{ c *command }

func (e errUsage) Error() string { return e.c.usageLines(i18n.English) }

// errFlags is a mistake in the flags, which the flag package has printed
// with the command's usage: status 2.
var errFlags = errors.New("the command line's flags are wrong")

// exec parses args with c's flags and runs c. It returns flag.ErrHelp
// after -h or --help (the usage printed), errFlags after a flag mistake,
// and otherwise what c returned.
func (c *command) exec(e *env, args []string) error {
	fs := newFlagSet("hubmirror "+c.name, e)
	e.args = args
	run := c.flags(fs, e)
	fs.Usage = func() { c.writeUsage(fs.Output(), e.lang, fs) }
	if err := parseAnywhere(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errFlags
	}
	return run(fs.Args())
}

// main is exec for the process: the error, if any, printed on stderr in
// the user's language, and the exit status.
func (c *command) main(e *env, args []string) int {
	err := c.exec(e, args)
	var usage errUsage
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2
	case errors.As(err, &usage):
		fmt.Fprintln(e.stderr, "hubmirror: "+usage.c.usageLines(e.lang))
	default:
		fmt.Fprintln(e.stderr, "hubmirror:", inUserLanguage(e.lang, err))
	}
	return 1
}
