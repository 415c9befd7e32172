package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/settings"
)

// pinCmd runs `hubmirror pin add|rm|ls [REF...]`: it edits "pinned" in the
// settings file, which a running `hubmirror serve` applies at once. Its
// errors read in the user's language.
func pinCmd(args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New(i18n.Key("usage: hubmirror pin add|rm|ls [IMAGE...]"))
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("hubmirror pin "+sub, flag.ContinueOnError)
	var flags settings.Flags
	flags.Register(fs)
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
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
	if fs.NArg() == 0 {
		return fmt.Errorf(i18n.Key("hubmirror pin %s needs at least one image, such as alpine:3.20"), sub)
	}
	for _, arg := range fs.Args() {
		ref, err := proxy.ParseRef(arg)
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
	fs := flag.NewFlagSet("hubmirror prefetch", flag.ContinueOnError)
	var flags settings.Flags
	flags.Register(fs)
	var platforms stringList
	fs.Var(&platforms, "platform", msg("only this platform of a multi-platform image, e.g. linux/amd64 (repeatable; default: all)"))
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() == 0 {
		return errors.New(i18n.Key("usage: hubmirror prefetch [--platform OS/ARCH] IMAGE [IMAGE]"))
	}
	s, _, err := flags.Load()
	if err != nil {
		return fmt.Errorf(i18n.Key("settings: %w"), err)
	}
	var refs []proxy.Ref
	for _, a := range fs.Args() {
		ref, err := proxy.ParseRef(a)
		if err != nil {
			return err
		}
		refs = append(refs, ref)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	base := "http://" + s.Listen
	if !mirrorAnswers(base) {
		// No mirror runs on this cache: run one for the job.
		m, err := proxy.New(proxy.Config{Listen: "127.0.0.1:0", CacheDir: s.CacheDir, Upstreams: s.Upstreams,
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
		tty := isTerminal(os.Stderr)
		res, err := proxy.Prefetch(ctx, client, base, ref, platforms, "", func(done, total int64) {
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

// stringList collects a repeated string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// quietLogger logs warnings and errors only, for commands that run a
// mirror for a moment.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
