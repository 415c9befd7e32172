package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// prefetchFlags is `hubmirror prefetch IMAGE...`: it downloads images into
// the cache ahead of time, through the running mirror or, when none
// answers, through one started for the job.
func prefetchFlags(fs *flag.FlagSet, e *env) func([]string) error {
	var flags settings.Flags
	flags.Register(fs)
	var platforms stringList
	fs.Var(&platforms, "platform", i18n.Key("only this platform of a multi-platform image, e.g. linux/amd64 (repeatable; default: all)"))
	return func(args []string) error {
		if len(args) == 0 {
			return errUsage{lookup("prefetch")}
		}
		s, _, err := flags.Load()
		if err != nil {
			return fmt.Errorf(i18n.Key("settings: %w"), err)
		}
		var refs []mirror.Ref
		for _, a := range args {
			ref, err := mirror.ParseRef(a)
			if err != nil {
				return err
			}
			refs = append(refs, ref)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		return prefetch(ctx, e, s, refs, platforms)
	}
}

// prefetch downloads refs (only platforms of them, when not empty) into
// the cache of s, saying for each what it took.
func prefetch(ctx context.Context, e *env, s settings.Settings, refs []mirror.Ref, platforms []string) error {
	base := "http://" + clientsetup.ClientHost(s.Listen)
	running := mirrorAnswers(base)
	if !running {
		// No mirror runs on this cache: run one for the job.
		ca, err := s.UpstreamCAPEM()
		if err != nil {
			return err
		}
		upstreams := s.Upstreams
		m, err := mirror.New(mirror.Config{Listen: "127.0.0.1:0", CacheDir: s.CacheDir, Upstreams: upstreams,
			CacheMax: s.CacheMaxBytes(), Logger: quietLogger(e), UpstreamCA: ca, Store: s.Store,
			Credentials: app.ChainedKeyringCredentials(func() map[string]string { return upstreams })})
		if err != nil {
			return err
		}
		if err := m.Start(); err != nil {
			return err
		}
		defer m.Stop(context.Background())
		base = "http://" + m.Addr()
	}
	client := &http.Client{}
	tty := isTerminal(e.stderr)
	for _, ref := range refs {
		auth := ""
		if running {
			var err error
			if auth, err = mirrorAuthorization(ctx, client, base, ref); err != nil {
				return fmt.Errorf(i18n.Key("prefetch %s: %w"), ref, err)
			}
		}
		res, err := mirror.Prefetch(ctx, client, base, ref, platforms, auth, func(done, total int64) {
			if tty {
				fmt.Fprintf(e.stderr, "\r%s %s / %s  %s", bar(int(done>>10), int(total>>10)),
					settings.FormatSize(done), settings.FormatSize(total), ref)
			}
		})
		if tty {
			fmt.Fprintln(e.stderr)
		}
		if err != nil {
			return fmt.Errorf(i18n.Key("prefetch %s: %w"), ref, err)
		}
		fmt.Fprintf(e.stdout, e.T("%s: %d manifests and blobs, %s downloaded or already cached\n"), ref, len(res.Digests), settings.FormatSize(res.Bytes))
	}
	return nil
}

// mirrorAnswers reports whether a registry answers GET /v2/ at base.
func mirrorAnswers(base string) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/v2/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Distribution-API-Version") != ""
}

// mirrorAuthorization is the Authorization header that pulls ref through
// the running mirror at base: none when the mirror asks for none. A mirror
// with self_auth on answers /v2/ with a challenge naming its own token
// service (/v2/auth); the token comes from there, asked for with the
// Docker Hub account `hubmirror login` stored, as `docker login` to the
// mirror would ask (or anonymously when none is stored: the mirror decides
// whether that may pull).
func mirrorAuthorization(ctx context.Context, client *http.Client, base string, ref mirror.Ref) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v2/", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf(i18n.Key("the mirror at %s: %w"), base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return "", nil
	}
	realm, service, err := mirrorRealm(base, resp.Header.Get("WWW-Authenticate"))
	if err != nil {
		return "", err
	}
	user, password, stored, err := app.KeyringCredentials()(app.HubRegistry)
	if err != nil {
		return "", fmt.Errorf(i18n.Key("the mirror runs with self_auth and the keyring cannot be read: %w"), err)
	}
	return mirrorToken(ctx, client, realm, service, ref, user, password, stored)
}

// mirrorRealm reads the token service and its name from the mirror's
// Bearer challenge. The service must be the mirror's own, on the host the
// request went to: the stored password goes nowhere else.
func mirrorRealm(base, challenge string) (realm *url.URL, service string, err error) {
	scheme, values, ok := mirror.ParseChallenge(challenge)
	if !ok || scheme != "bearer" {
		return nil, "", fmt.Errorf(i18n.Key("the mirror asks for a login hubmirror cannot give (%s)"), challenge)
	}
	realm, err = url.Parse(values["realm"])
	b, _ := url.Parse(base)
	if err != nil || b == nil || realm.Host != b.Host {
		return nil, "", fmt.Errorf(i18n.Key("the mirror's token service %q is not on the mirror itself"), values["realm"])
	}
	realm.Scheme = b.Scheme // plain HTTP on this machine, as the mirror serves it whether or not TLS is on
	return realm, values["service"], nil
}

// mirrorToken asks the mirror's token service for a token that pulls ref,
// with the stored Docker Hub account when there is one.
func mirrorToken(ctx context.Context, client *http.Client, realm *url.URL, service string, ref mirror.Ref, user, password string, stored bool) (string, error) {
	q := realm.Query()
	if service != "" {
		q.Set("service", service)
	}
	q.Set("scope", "repository:"+mirrorPath(ref)+":pull")
	u := *realm
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	if stored {
		req.SetBasicAuth(user, password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf(i18n.Key("the mirror's token service: %w"), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && !stored:
		return "", errors.New(i18n.Key("the mirror runs with self_auth and no Docker Hub account is stored: run hubmirror login first"))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf(i18n.Key("the mirror refused the stored Docker Hub account of %s (%s)"), user, resp.Status)
	default:
		return "", fmt.Errorf(i18n.Key("the mirror's token service answered %s"), resp.Status)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&tok); err != nil {
		return "", fmt.Errorf(i18n.Key("the mirror's token service: %w"), err)
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	if tok.Token == "" {
		return "", errors.New(i18n.Key("the mirror's token service sent no token"))
	}
	return "Bearer " + tok.Token, nil
}

// mirrorPath is ref's repository as the mirror's URLs name it: Docker
// Hub's as they are, another registry's after its name.
func mirrorPath(ref mirror.Ref) string {
	if ref.Registry == app.HubRegistry {
		return ref.Repo
	}
	return ref.Registry + "/" + ref.Repo
}

// quietLogger logs warnings and errors only, on e's stderr, for commands
// that run a mirror for a moment.
func quietLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
