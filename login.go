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
	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/settings"
	"github.com/hubmirror/hubmirror/settings/secrets"
)

// registryArg takes an optional leading REGISTRY argument (default
// docker.io) so that it may come before the flags, as in docker login.
func registryArg(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "docker.io", args
}

// login checks an account with the registry's token service and, only if
// it works, stores it in the OS keyring. Its errors read in the user's
// language.
func login(args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	registry, args := registryArg(args)
	fs := flag.NewFlagSet("hubmirror login", flag.ContinueOnError)
	var flags settings.Flags
	flags.RegisterUpstreams(fs)
	user := fs.String("u", "", msg("username"))
	fs.StringVar(user, "username", "", msg("username"))
	stdin := fs.Bool("password-stdin", false, msg("read the password or access token from standard input"))
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), msg("Usage: echo \"$TOKEN\" | hubmirror login [REGISTRY] -u USER --password-stdin"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		registry = fs.Arg(0)
	}
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
	if err := proxy.CheckLogin(ctx, registry, endpoint, *user, password, nil); err != nil {
		if errors.Is(err, proxy.ErrDenied) {
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
	registry, args := registryArg(args)
	fs := flag.NewFlagSet("hubmirror logout", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		registry = fs.Arg(0)
	}
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
