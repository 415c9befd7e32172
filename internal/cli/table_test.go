package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
)

// Every command of the table but the hidden one appears in `hubmirror
// help`, each of its forms with its summary; help exits 0 and writes on
// stdout.
func TestHelpListsEveryCommand(t *testing.T) {
	cliEnv(t)
	code, stdout, stderr := runMain(t, "help")
	if code != 0 || stderr != "" {
		t.Fatalf("help: exit %d, stderr %q", code, stderr)
	}
	for _, c := range commands() {
		for _, f := range c.forms {
			has := strings.Contains(stdout, "  "+f.usage) && strings.Contains(stdout, f.summary)
			if has == c.hidden {
				t.Errorf("command %q (hidden %v): help has %q with %q: %v\n%s", c.name, c.hidden, f.usage, f.summary, has, stdout)
			}
		}
	}
	if !strings.Contains(stdout, "--listen HOST:PORT") {
		t.Errorf("help lacks the mirror's flags:\n%s", stdout)
	}
}

// `hubmirror CMD --help` and -h print the command's usage line first, its
// flags written --name, on stderr, and exit 0, for every command.
func TestEveryCommandHasHelp(t *testing.T) {
	cliEnv(t)
	for _, c := range commands() {
		for _, h := range []string{"--help", "-h"} {
			args := []string{h}
			if c.name != "" {
				args = []string{c.name, h}
			}
			code, stdout, stderr := runMain(t, args...)
			want := "usage: " + c.forms[0].usage
			if c.name == "" {
				want = "Usage:\n  " + c.forms[0].usage
			}
			if code != 0 || stdout != "" || !strings.Contains(stderr, want) {
				t.Errorf("%q: exit %d, stdout %q, want %q on stderr:\n%s", args, code, stdout, want, stderr)
			}
			if strings.Contains(stderr, "Usage of") || singleDash.MatchString(stderr) {
				t.Errorf("%q prints Go's default usage or a single-dash flag:\n%s", args, stderr)
			}
		}
	}
}

// singleDash finds a flag written -name in a usage: only one-letter flags
// (login's -u) are written so.
var singleDash = regexp.MustCompile(`\n  -[^-\s][^\s]`)

// A command the table does not have prints the help after saying so, and
// exits 2.
func TestUnknownCommandExits2(t *testing.T) {
	cliEnv(t)
	code, stdout, stderr := runMain(t, "nope", "--listen", "x")
	if code != 2 || stdout != "" || !strings.Contains(stderr, `unknown command "nope"`) || !strings.Contains(stderr, "Usage:\n  hubmirror [flags]") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// A flag mistake (unknown, or without its value) exits 2 with the
// flag package's message and the command's usage, for every command.
func TestFlagMistakesExit2(t *testing.T) {
	cliEnv(t)
	for _, c := range commands() {
		for _, bad := range [][]string{{"--no-such-flag"}, {"-no-such-flag=1"}} {
			args := append([]string{c.name}, bad...)
			if c.name == "" {
				args = bad
			}
			code, _, stderr := runMain(t, args...)
			if code != 2 || !strings.Contains(stderr, "flag provided but not defined") || !strings.Contains(stderr, c.forms[0].usage) {
				t.Errorf("%q: exit %d, want 2 with the usage:\n%s", args, code, stderr)
			}
		}
	}
	if code, _, stderr := runMain(t, "pin", "add", "alpine:3.20", "--config"); code != 2 || !strings.Contains(stderr, "needs an argument") {
		t.Errorf("pin add IMAGE --config (no value): exit %d, want 2:\n%s", code, stderr)
	}
}

// A command line that lacks what the command needs prints the command's
// usage after "hubmirror: " and exits 1, as it always has; one without a
// flag mistake never prints the flags.
func TestMissingArgumentsExit1(t *testing.T) {
	config := cliEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"setup"}, "hubmirror: usage: hubmirror setup docker|containerd|podman|k3s|kind|pull [--host HOST:PORT] [--vm|--native]\n   or: hubmirror setup docker|containerd|podman --apply|--undo"},
		{[]string{"cache", "--config", config}, "hubmirror: usage: hubmirror cache ls | prune --to SIZE [--grace DURATION] | verify | clear [--yes]"},
		{[]string{"cache", "nope", "--config", config}, "hubmirror: usage: hubmirror cache"},
		{[]string{"pin", "--config", config}, "hubmirror: usage: hubmirror pin add|rm|ls [IMAGE...]"},
		{[]string{"pin", "nope", "--config", config}, "hubmirror: usage: hubmirror pin add|rm|ls [IMAGE...]"},
		{[]string{"prefetch", "--config", config}, "hubmirror: usage: hubmirror prefetch [--platform OS/ARCH] IMAGE..."},
		{[]string{"pin", "add", "--config", config}, "hubmirror: hubmirror pin add needs at least one image"},
		{[]string{"serve", "extra", "--config", config}, `hubmirror: unexpected argument "extra"`},
		{[]string{"login", "-u", "alice", "--config", config}, "hubmirror: login needs -u USER and --password-stdin"},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, want 1 with %q:\n%s", tc.args, code, tc.want, stderr)
		}
		if tc.args[0] != "login" && strings.Contains(stderr, "Flags:") {
			t.Errorf("%q printed the flags:\n%s", tc.args, stderr)
		}
	}
}

// `hubmirror version` prints the version on stdout and exits 0.
func TestVersion(t *testing.T) {
	code, stdout, _ := runMain(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "hubmirror ") || len(strings.Fields(stdout)) != 2 {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
}

// The setup usage names every client setup knows.
func TestSetupUsageNamesEveryClient(t *testing.T) {
	want := "hubmirror setup " + strings.Join(clientsetup.Clients, "|") + " "
	if got := lookup("setup").forms[0].usage; !strings.HasPrefix(got, want) {
		t.Errorf("setup usage %q does not start %q", got, want)
	}
}

// Help's summaries start in one column, in English and in Chinese, where
// a character takes two columns.
func TestHelpColumns(t *testing.T) {
	if displayWidth("hubmirror [选项]") != 16 || displayWidth("用法：") != 6 || displayWidth("abc") != 3 {
		t.Fatalf("displayWidth: %d %d %d", displayWidth("hubmirror [选项]"), displayWidth("用法："), displayWidth("abc"))
	}
	for _, l := range []i18n.Lang{i18n.English, i18n.Chinese} {
		var b strings.Builder
		writeHelp(&b, l)
		for _, c := range commands() {
			if c.hidden {
				continue
			}
			for _, f := range c.forms {
				summary := l.T(f.summary)
				for _, line := range strings.Split(b.String(), "\n") {
					if i := strings.Index(line, summary); i >= 0 && displayWidth(line[:i]) != helpColumn {
						t.Errorf("%s: %q starts at column %d, want %d", l, summary, displayWidth(line[:i]), helpColumn)
					}
				}
			}
		}
	}
}

// The suggested sudo line repeats the user's arguments but the client,
// wherever on the line the client was.
func TestWithoutFirstArg(t *testing.T) {
	fs := newFlagSet("test", &env{stderr: os.Stderr})
	fs.String("file", "", "")
	fs.Bool("apply", false, "")
	for _, tc := range []struct{ args, want []string }{
		{[]string{"docker", "--apply", "--file", "x"}, []string{"--apply", "--file", "x"}},
		{[]string{"--file", "docker", "--apply", "docker", "extra"}, []string{"--file", "docker", "--apply", "extra"}},
		{[]string{"--apply", "--", "docker"}, []string{"--apply", "--"}},
		{[]string{"--apply"}, []string{"--apply"}},
	} {
		if got := withoutFirstArg(fs, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("withoutFirstArg(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// Only package main ends the process: no file of the command line, the
// app or the desktop app calls os.Exit or hands it on (the desktop app's
// Quit gets the exit main passes down).
func TestNoOsExitOutsideMain(t *testing.T) {
	files := 0
	for _, dir := range []string{".", "../app", "../desktop", "../version"} {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			files++
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			osName := ""
			for _, imp := range f.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); path == "os" {
					osName = "os"
					if imp.Name != nil {
						osName = imp.Name.Name
					}
				}
			}
			if osName == "" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Exit" {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == osName {
						t.Errorf("%s uses os.Exit: return an exit status to main instead", name)
					}
				}
				return true
			})
		}
	}
	if files < 20 {
		t.Fatalf("read only %d files: the check would prove little", files)
	}
}
