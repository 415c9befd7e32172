package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// registryArg is the REGISTRY argument of login and logout, which flags
// may come before or after as in docker login: docker.io when none is
// given.
func registryArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "docker.io"
}

// loginFlags is `hubmirror login [REGISTRY] -u USER --password-stdin`: it
// checks an account with the registry's token service and, only if it
// works, stores it in the OS keyring under REGISTRY. REGISTRY may also be
// a team mirror's HOST:PORT (loginEndpoint), whose CA --upstream-ca or
// "upstream_ca" trusts, or an object store's URL, s3://BUCKET/PREFIX?…,
// or s3 for the settings' store (loginStore).
func loginFlags(fs *flag.FlagSet, e *env) func([]string) error {
	var flags settings.Flags
	flags.RegisterUpstreams(fs)
	user := fs.String("u", "", i18n.Key("username"))
	fs.StringVar(user, "username", "", i18n.Key("username"))
	stdin := fs.Bool("password-stdin", false, i18n.Key("read the password or access token from standard input"))
	return func(args []string) error {
		registry := registryArg(args)
		if isStoreArg(registry) {
			return loginStore(e, &flags, registry, *user, *stdin)
		}
		if *user == "" || !*stdin {
			fs.Usage()
			return errors.New(i18n.Key("login needs -u USER and --password-stdin"))
		}
		raw, err := io.ReadAll(io.LimitReader(e.stdin, 64<<10))
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
		endpoint, err := loginEndpoint(s, registry)
		if err != nil {
			return err
		}
		caPEM, err := s.UpstreamCAPEM()
		if err != nil {
			return err
		}
		rt, err := mirror.UpstreamTransport(caPEM)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := mirror.CheckLogin(ctx, registry, endpoint, *user, password, rt); err != nil {
			if errors.Is(err, mirror.ErrDenied) {
				return fmt.Errorf(i18n.Key("login failed: %s refused the username or password; nothing was stored"), registry)
			}
			return fmt.Errorf(i18n.Key("login failed, nothing was stored: %w"), err)
		}
		if err := secrets.Set(registry, secrets.Credential{Username: *user, Password: password}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, e.T("Login succeeded: %s's credentials for %s are in the OS keyring.\n"), *user, registry)
		return nil
	}
}

// loginEndpoint is where login checks an account for registry: the
// endpoint of a mirrored registry; else, for the host:port of an endpoint
// in "upstreams" (a team mirror that docker.io is chained to), that
// endpoint; else https://REGISTRY, as docker login does for a host it
// does not know. The mirror looks a chained registry's account up by that
// host:port first (app.ChainedKeyringCredentials).
func loginEndpoint(s settings.Settings, registry string) (string, error) {
	endpoint, err := s.Endpoint(registry)
	if err == nil {
		return endpoint, nil
	}
	for _, ep := range s.Upstreams {
		if u, perr := url.Parse(ep); perr == nil && strings.EqualFold(u.Host, registry) {
			return ep, nil
		}
	}
	if settings.CheckUpstream(registry, "https://"+registry) == nil {
		return "https://" + registry, nil
	}
	return "", err
}

// logoutFlags is `hubmirror logout [REGISTRY]`: it removes a registry's
// credentials from the OS keyring. REGISTRY may be an object store's URL,
// or s3 for the settings' store, as for login.
func logoutFlags(fs *flag.FlagSet, e *env) func([]string) error {
	var flags settings.Flags
	fs.StringVar(&flags.Config, "config", "", i18n.Key("settings file (default: the user config dir + /hubmirror/settings.json)"))
	return func(args []string) error {
		registry := registryArg(args)
		var err error
		if isStoreArg(registry) {
			registry, err = logoutStore(&flags, registry)
		} else {
			err = secrets.Delete(registry)
		}
		if errors.Is(err, secrets.ErrNotFound) {
			fmt.Fprintf(e.stdout, e.T("No credentials for %s were stored.\n"), registry)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, e.T("Removed the credentials for %s from the OS keyring.\n"), registry)
		return nil
	}
}

// isStoreArg reports whether a login or logout argument names an object
// store rather than a registry: a store URL, s3://BUCKET/PREFIX?endpoint=…
// as --store takes it, or s3 alone for the settings' "store".
func isStoreArg(arg string) bool { return arg == "s3" || strings.HasPrefix(arg, "s3://") }

// storeURL is the store URL a store argument names: the argument itself,
// or for s3 alone the settings' "store", which must then be set.
func storeURL(arg string, s settings.Settings) (string, error) {
	if arg != "s3" {
		return arg, nil
	}
	if s.Store == "" {
		return "", errors.New(i18n.Key("no store is set in the settings: give the store's URL, as --store takes it: hubmirror login 's3://BUCKET/PREFIX?endpoint=URL'"))
	}
	return s.Store, nil
}

// loginStore is `hubmirror login s3://BUCKET/PREFIX?endpoint=URL…`: it
// reads an access key ID and its secret (storeKeys), checks them against
// the store and, only if they work, keeps them in the OS keyring under
// the store's endpoint host and bucket (app.StoreAccountName), where
// `serve` and the desktop app find them after the AWS environment
// variables and before ~/.aws/credentials (app.StoreCredentials).
func loginStore(e *env, flags *settings.Flags, arg, user string, passwordStdin bool) error {
	s, _, err := flags.Load()
	if err != nil {
		return fmt.Errorf(i18n.Key("settings: %w"), err)
	}
	raw, err := storeURL(arg, s)
	if err != nil {
		return err
	}
	// A mistake in the URL is said before any key is asked for.
	if _, _, err := app.StoreAccount(raw); err != nil {
		return err
	}
	id, secret, err := storeKeys(e, user, passwordStdin)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, err := app.LoginStore(ctx, raw, id, secret)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, e.T("Login succeeded: access key %s for %s is in the OS keyring.\n"), id, name)
	return nil
}

// logoutStore removes the account of the store arg names from the OS
// keyring and returns the keyring name it had.
func logoutStore(flags *settings.Flags, arg string) (string, error) {
	raw := arg
	if arg == "s3" {
		s, _, err := flags.Load()
		if err != nil {
			return "", fmt.Errorf(i18n.Key("settings: %w"), err)
		}
		if raw, err = storeURL(arg, s); err != nil {
			return "", err
		}
	}
	return app.LogoutStore(raw)
}

// maxKeyLine bounds what storeKeys reads from standard input.
const maxKeyLine = 64 << 10

// storeKeys reads the access key ID and the secret access key of a store
// login. The ID is -u's; without -u it is asked for on a terminal, else
// it is the first line of standard input. The secret is asked for on a
// terminal without echo, unless --password-stdin; else it is the next
// line of standard input. So a script pipes either both, one per line, or
// the secret alone with -u ID --password-stdin, as for a registry.
func storeKeys(e *env, user string, passwordStdin bool) (id, secret string, err error) {
	tty := !passwordStdin && isTerminal(e.stdin)
	in := bufio.NewReader(io.LimitReader(e.stdin, maxKeyLine))
	id = strings.TrimSpace(user)
	if id == "" {
		if tty {
			fmt.Fprint(e.stderr, e.T("Access key ID: "))
		}
		line, err := readKeyLine(in)
		if err != nil {
			return "", "", fmt.Errorf(i18n.Key("read the access key ID: %w"), err)
		}
		if id = strings.TrimSpace(line); id == "" {
			return "", "", errors.New(i18n.Key("no access key ID: give it with -u, or as the first line of standard input and the secret access key as the second"))
		}
	}
	if tty {
		fmt.Fprint(e.stderr, e.T("Secret access key: "))
		fd := e.stdin.(interface{ Fd() uintptr }).Fd()
		typed, err := term.ReadPassword(int(fd))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", "", fmt.Errorf(i18n.Key("read the secret access key: %w"), err)
		}
		secret = string(typed)
	} else if secret, err = readKeyLine(in); err != nil {
		return "", "", fmt.Errorf(i18n.Key("read the secret access key: %w"), err)
	}
	if secret == "" {
		return "", "", errors.New(i18n.Key("no secret access key: type it when asked, or give it on standard input (the line after the access key ID, or alone with -u ID --password-stdin)"))
	}
	return id, secret, nil
}

// readKeyLine reads one line of in without its line ending; the last line
// may lack one, and at the end of the input it is "".
func readKeyLine(in *bufio.Reader) (string, error) {
	line, err := in.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
