package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// registryArg is the REGISTRY argument of login and logout, which flags
// may come before or after as in docker login: docker.io when none is
// given.
func registryArg(fs *flag.FlagSet) string {
	if fs.NArg() > 0 {
		return fs.Arg(0)
	}
	return "docker.io"
}

// login checks an account with the registry's token service and, only if
// it works, stores it in the OS keyring. Its errors read in the user's
// language.
func login(args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	fs := newFlagSet("hubmirror login")
	var flags settings.Flags
	flags.RegisterUpstreams(fs)
	user := fs.String("u", "", msg("username"))
	fs.StringVar(user, "username", "", msg("username"))
	stdin := fs.Bool("password-stdin", false, msg("read the password or access token from standard input"))
	setUsage(fs, msg("Usage: echo \"$TOKEN\" | hubmirror login [REGISTRY] -u USER --password-stdin"))
	if err := parseAnywhere(fs, args); err != nil {
		return usageError(err)
	}
	registry := registryArg(fs)
	if *user == "" || !*stdin {
		fs.Usage()
		return errors.New(i18n.Key("login needs -u USER and --password-stdin"))
	}
	raw, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
	if err != nil {
		return fmt.Errorf(i18n.Key("read password: %w"), err)
	}
	password := strings.TrimRight(string(raw), "\r\n")
	if password == "" {
		return errors.New(i18n.Key("no password on standard input"))
	}
	s, _, err := flags.Load()
	if err != nil {
		return fmt.Errorf(i18n.Key("settings: %w"), err)
	}
	endpoint, err := s.Endpoint(registry)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := mirror.CheckLogin(ctx, registry, endpoint, *user, password, nil); err != nil {
		if errors.Is(err, mirror.ErrDenied) {
			return fmt.Errorf(i18n.Key("login failed: %s refused the username or password; nothing was stored"), registry)
		}
		return fmt.Errorf(i18n.Key("login failed, nothing was stored: %w"), err)
	}
	if err := secrets.Set(registry, secrets.Credential{Username: *user, Password: password}); err != nil {
		return err
	}
	fmt.Printf(msg("Login succeeded: %s's credentials for %s are in the OS keyring.\n"), *user, registry)
	return nil
}

// logout removes a registry's credentials from the OS keyring. Its errors
// read in the user's language.
func logout(args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	fs := newFlagSet("hubmirror logout")
	setUsage(fs, msg("usage: hubmirror logout [REGISTRY]"))
	if err := parseAnywhere(fs, args); err != nil {
		return usageError(err)
	}
	registry := registryArg(fs)
	err = secrets.Delete(registry)
	if errors.Is(err, secrets.ErrNotFound) {
		fmt.Printf(msg("No credentials for %s were stored.\n"), registry)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Printf(msg("Removed the credentials for %s from the OS keyring.\n"), registry)
	return nil
}

// usageError turns -h into a clean exit and other flag errors (already
// printed by the flag package) into exit status 2.
func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	os.Exit(2)
	return err
}

// newFlagSet is a command's flag set. Parse returns its errors, having
// printed them with the usage, and the command turns them into its exit
// status (usageError).
func newFlagSet(name string) *flag.FlagSet {
	return flag.NewFlagSet(name, flag.ContinueOnError)
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
