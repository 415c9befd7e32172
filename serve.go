package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/settings"
	"github.com/hubmirror/hubmirror/settings/secrets"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// shutdownGrace is how long running pulls may finish after SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// serve runs the mirror headless until SIGINT or SIGTERM. Its errors read
// in the user's language.
func serve(cmd string, args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	fs := flag.NewFlagSet("hubmirror "+cmd, flag.ContinueOnError)
	var flags settings.Flags
	flags.Register(fs)
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
	proxy.Version = version
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
	if st := m.Status(); st.State == proxy.Failed {
		return errors.New(st.Err)
	}
	return nil
}

// access is the part of the settings that says who may pull.
func access(s settings.Settings) proxy.Access {
	return proxy.Access{SelfAuth: s.SelfAuth, AllowedUsers: s.AllowedUsers}
}

// keyringCredentials reads registry accounts from the OS keyring. When the
// keyring cannot be used it says so once, in one line, and the mirror
// pulls anonymously.
func keyringCredentials() proxy.Credentials {
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
