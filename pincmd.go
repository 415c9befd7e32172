package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// pinCmd runs `hubmirror pin add|rm|ls [REF...]`: it edits "pinned" in the
// settings file, which a running `hubmirror serve` applies at once. Its
// errors read in the user's language.
func pinCmd(args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	fs := newFlagSet("hubmirror pin")
	var flags settings.Flags
	flags.Register(fs)
	setUsage(fs, msg("usage: hubmirror pin add|rm|ls [IMAGE...]"))
	if err := parseAnywhere(fs, args); err != nil {
		return usageError(err)
	}
	if fs.NArg() == 0 {
		return errors.New(i18n.Key("usage: hubmirror pin add|rm|ls [IMAGE...]"))
	}
	sub, images := fs.Arg(0), fs.Args()[1:]
	_, path, err := flags.Load()
	if err != nil {
		return fmt.Errorf(i18n.Key("settings: %w"), err)
	}
	s, err := settings.Load(path) // the file as it is, without the flags
	if err != nil {
		return err
	}
	switch sub {
	case "ls":
		for _, p := range s.Pinned {
			fmt.Println(p)
		}
		return nil
	case "add", "rm":
	default:
		return errors.New(i18n.Key("usage: hubmirror pin add|rm|ls [IMAGE...]"))
	}
	if len(images) == 0 {
		return fmt.Errorf(i18n.Key("hubmirror pin %s needs at least one image, such as alpine:3.20"), sub)
	}
	for _, arg := range images {
		ref, err := mirror.ParseRef(arg)
		if err != nil {
			return err
		}
		name := ref.String()
		i := slices.Index(s.Pinned, name)
		switch {
		case sub == "add" && i < 0:
			s.Pinned = append(s.Pinned, name)
		case sub == "rm" && i >= 0:
			s.Pinned = slices.Delete(s.Pinned, i, i+1)
		case sub == "rm":
			return fmt.Errorf(i18n.Key("%s is not pinned"), name)
		}
	}
	if err := settings.Save(path, s); err != nil {
		return err
	}
	fmt.Printf(msg("Pinned images (%d): %s\n"), len(s.Pinned), strings.Join(s.Pinned, ", "))
	return nil
}

// prefetchCmd downloads images into the cache ahead of time, through the
// running mirror or, when none answers, through one started for the job.
// Its errors read in the user's language.
func prefetchCmd(args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	fs := newFlagSet("hubmirror prefetch")
	var flags settings.Flags
	flags.Register(fs)
	var platforms stringList
	fs.Var(&platforms, "platform", msg("only this platform of a multi-platform image, e.g. linux/amd64 (repeatable; default: all)"))
	setUsage(fs, msg("usage: hubmirror prefetch [--platform OS/ARCH] IMAGE [IMAGE]"))
	if err := parseAnywhere(fs, args); err != nil {
		return usageError(err)
	}
	if fs.NArg() == 0 {
		return errors.New(i18n.Key("usage: hubmirror prefetch [--platform OS/ARCH] IMAGE [IMAGE]"))
	}
	s, _, err := flags.Load()
	if err != nil {
		return fmt.Errorf(i18n.Key("settings: %w"), err)
	}
	var refs []mirror.Ref
	for _, a := range fs.Args() {
		ref, err := mirror.ParseRef(a)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	base := "http://" + clientsetup.ClientHost(s.Listen)
	running := mirrorAnswers(base)
	if !running {
		// No mirror runs on this cache: run one for the job.
		m, err := mirror.New(mirror.Config{Listen: "127.0.0.1:0", CacheDir: s.CacheDir, Upstreams: s.Upstreams,
			CacheMax: s.CacheMaxBytes(), Credentials: keyringCredentials(), Logger: quietLogger()})
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
	for _, ref := range refs {
		auth := ""
		if running {
			if auth, err = mirrorAuthorization(ctx, client, base, ref); err != nil {
				return fmt.Errorf(i18n.Key("prefetch %s: %w"), ref, err)
			}
		}
		tty := isTerminal(os.Stderr)
		res, err := mirror.Prefetch(ctx, client, base, ref, platforms, auth, func(done, total int64) {
			if tty {
				fmt.Fprintf(os.Stderr, "\r%s %s / %s  %s", bar(int(done>>10), int(total>>10)),
					settings.FormatSize(done), settings.FormatSize(total), ref)
			}
		})
		if tty {
			fmt.Fprintln(os.Stderr)
		}
		if err != nil {
			return fmt.Errorf(i18n.Key("prefetch %s: %w"), ref, err)
		}
		fmt.Printf(msg("%s: %d manifests and blobs, %s downloaded or already cached\n"), ref, len(res.Digests), settings.FormatSize(res.Bytes))
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
	user, password, stored, err := keyringCredentials()(hubRegistry)
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
	if ref.Registry == hubRegistry {
		return ref.Repo
	}
	return ref.Registry + "/" + ref.Repo
}

// stringList collects a repeated string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// quietLogger logs warnings and errors only, for commands that run a
// mirror for a moment.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
