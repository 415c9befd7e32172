package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/settings"
)

// version is set with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// shutdownGrace is how long running pulls may finish after SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// errUsage marks an error the flag package has already reported.
var errUsage = errors.New("usage")

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
	if cmd == "" {
		log.Info("the tray app is not part of this build; running headless")
	}
	proxy.Version = version
	m, err := proxy.New(proxy.Config{Listen: s.Listen, CacheDir: s.CacheDir, Upstreams: s.Upstreams, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Start(); err != nil {
		return err
	}
	log.Info("hubmirror started", "version", version, "settings", path)
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
