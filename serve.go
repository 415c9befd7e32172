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

	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/settings"
	"github.com/hubmirror/hubmirror/settings/secrets"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// shutdownGrace is how long running pulls may finish after SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// serve runs the mirror headless until SIGINT or SIGTERM.
func serve(cmd string, args []string) error {
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
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	s, path, err := flags.Load()
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	proxy.Version = version
	b, err := newBackend(path, s, log)
	if err != nil {
		return err
	}
	if cmd == "" {
		if why := noDisplay(); why != "" {
			log.Info(why + ": running headless, as hubmirror serve")
		} else {
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
	go watchSettings(ctx, path, &flags, b, log)
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", shutdownGrace)
	case <-m.Done():
	}
	stop()
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

// settingsPoll is how often serve looks at the settings file for changes.
const settingsPoll = time.Second

// watchSettings applies changes of the settings file to the running mirror:
// self_auth and allowed_users at once, a new listen address, cache
// directory or upstreams by restarting it. SIGHUP reloads at once.
func watchSettings(ctx context.Context, path string, flags *settings.Flags, b *backend, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(settingsPoll)
	defer tick.Stop()
	last := fileStamp(path)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if st := fileStamp(path); st == last {
				continue
			} else {
				last = st
			}
		case <-hup:
			last = fileStamp(path)
		}
		next, err := settings.Load(path)
		if err == nil {
			flags.Apply(&next)
			err = next.Validate()
		}
		if err != nil {
			log.Warn("settings not applied; the mirror keeps running with the previous ones", "err", err)
			continue
		}
		if err := b.apply(next); err != nil {
			log.Error("settings applied, but the mirror did not restart", "err", err)
		}
	}
}

// fileStamp identifies a version of a file by size and modification time.
func fileStamp(path string) string {
	info, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprint(info.Size(), info.ModTime().UnixNano())
}
