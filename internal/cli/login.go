package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
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
// "upstream_ca" trusts.
func loginFlags(fs *flag.FlagSet, e *env) func([]string) error {
	var flags settings.Flags
	flags.RegisterUpstreams(fs)
	user := fs.String("u", "", i18n.Key("username"))
	fs.StringVar(user, "username", "", i18n.Key("username"))
	stdin := fs.Bool("password-stdin", false, i18n.Key("read the password or access token from standard input"))
	return func(args []string) error {
		registry := registryArg(args)
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
// credentials from the OS keyring.
func logoutFlags(_ *flag.FlagSet, e *env) func([]string) error {
	return func(args []string) error {
		registry := registryArg(args)
		err := secrets.Delete(registry)
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
