package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// shutdownGrace is how long running pulls may finish after SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// serve runs the mirror headless until SIGINT or SIGTERM. Its errors read
// in the user's language.
func serve(cmd string, args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	var flags settings.Flags
	fs := serveFlags(cmd, &flags)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf(i18n.Key("unexpected argument %q"), fs.Arg(0))
	}
	s, path, err := flags.Load()
	if err != nil {
		return fmt.Errorf(i18n.Key("settings: %w"), err)
	}
	log := slog.New(slog.NewTextHandler(logOutput, nil)) // stderr, and the desktop app's log file
	mirror.Version = version
	b, err := newBackend(path, s, log)
	if err != nil {
		return err
	}
	b.flags = &flags
	if cmd == "" {
		if why := noDisplay(); why != "" {
			log.Info(why + ": running headless, as hubmirror serve")
		} else {
			stopWatch := watchInBackground(b)
			defer stopWatch()
			return runDesktop(b)
		}
	}
	m := b.m
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Start(); err != nil {
		return err
	}
	log.Info("hubmirror started", "version", version, "settings", path, "self_auth", s.SelfAuth)
	stopWatch := watchInBackground(b)
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", shutdownGrace)
	case <-m.Done():
	}
	stop()
	stopWatch()
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := m.Stop(shutdown); err != nil {
		return err
	}
	if st := m.Status(); st.State == mirror.Failed {
		return errors.New(st.Err)
	}
	return nil
}

// access is the part of the settings that says who may pull.
func access(s settings.Settings) mirror.Access {
	return mirror.Access{SelfAuth: s.SelfAuth, AllowedUsers: s.AllowedUsers}
}

// keyringCredentials reads registry accounts from the OS keyring. When the
// keyring cannot be used it says so once, in one line, and the mirror
// pulls anonymously.
func keyringCredentials() mirror.Credentials {
	var once sync.Once
	return func(registry string) (string, string, bool, error) {
		c, err := secrets.Get(registry)
		switch {
		case err == nil:
			return c.Username, c.Password, true, nil
		case errors.Is(err, secrets.ErrNotFound):
			return "", "", false, nil
		}
		var first error
		once.Do(func() { first = err })
		return "", "", false, first
	}
}

// watchInBackground runs b.watchFile in a goroutine; stop ends it and
// returns once no change of the file can reach the mirror any more.
func watchInBackground(b *backend) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.watchFile(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// serveFlags is the flag set of `hubmirror serve` (cmd "serve") or of the
// desktop app (cmd ""), its flags registered on flags. Its help is the
// command's usage line and its flags written --name (Go's default says
// "Usage of hubmirror :" and writes -name).
func serveFlags(cmd string, flags *settings.Flags) *flag.FlagSet {
	fs := newFlagSet(strings.TrimSpace("hubmirror " + cmd))
	flags.Register(fs)
	line := msg("usage: hubmirror [flags]")
	if cmd != "" {
		line = msg("usage: hubmirror serve [flags]")
	}
	setUsage(fs, line)
	return fs
}

// setUsage makes fs's help, printed for -h and --help and after a flag
// error, the command's usage line (in the user's language) and its flags.
func setUsage(fs *flag.FlagSet, line string) {
	fs.Usage = func() { writeUsage(fs.Output(), fs, line) }
}

// writeUsage writes line and then fs's flags, one a line, as the usage
// writes them: --name VALUE and what it does, in a column.
func writeUsage(w io.Writer, fs *flag.FlagSet, line string) {
	fmt.Fprintf(w, "%s\n\n%s\n", line, msg("Flags:"))
	l := i18n.FromEnv()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		// "--upstream REGISTRY=URL", not "--upstream REGISTRY=URL  REGISTRY=URL: send…".
		help := strings.TrimPrefix(f.Usage, flagValueName(f)+": ")
		fmt.Fprintf(tw, "  %s\t%s\n", flagSyntax(f), l.Text(help))
	})
	_ = tw.Flush()
}

// flagSyntax is how the usage writes flag f: "--listen HOST:PORT",
// "--self-auth" for a bool flag, "-u USER" for a one-letter one.
func flagSyntax(f *flag.Flag) string {
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return dash + f.Name
	}
	return dash + f.Name + " " + flagValueName(f)
}

// flagValueName is the word that stands for a flag's value in the usage:
// the main usage's words for the flags it names, else Go's (the
// back-quoted word of the help, or the value's type), in capitals.
func flagValueName(f *flag.Flag) string {
	switch f.Name {
	case "listen", "host":
		return "HOST:PORT"
	case "cache-dir", "dir":
		return "DIR"
	case "cache-max", "to":
		return "SIZE"
	case "config", "file":
		return "FILE"
	case "upstream":
		return "REGISTRY=URL"
	case "alias":
		return "HOST=REGISTRY"
	case "allow-user":
		return "NAME"
	case "tls":
		return "off|auto"
	case "platform":
		return "OS/ARCH"
	case "u", "username":
		return "USER"
	}
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		name = "value"
	}
	return strings.ToUpper(name)
}
