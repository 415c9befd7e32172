package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/desktop"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// appFlags is `hubmirror` alone: the desktop app where there is a
// display, else the mirror headless as `hubmirror serve`.
func appFlags(fs *flag.FlagSet, e *env) func([]string) error {
	return mirrorFlags(fs, e, true)
}

// serveFlags is `hubmirror serve`: the mirror headless until SIGINT or
// SIGTERM. Its flags are the settings', which win over the file's.
func serveFlags(fs *flag.FlagSet, e *env) func([]string) error {
	return mirrorFlags(fs, e, false)
}

// mirrorFlags registers the settings' flags and returns the run func of
// the desktop app (desktopApp) or of serve.
func mirrorFlags(fs *flag.FlagSet, e *env, desktopApp bool) func([]string) error {
	flags := new(settings.Flags)
	flags.Register(fs)
	return func(args []string) error {
		if len(args) > 0 {
			return fmt.Errorf(i18n.Key("unexpected argument %q"), args[0])
		}
		s, path, err := flags.Load()
		if err != nil {
			return fmt.Errorf(i18n.Key("settings: %w"), err)
		}
		log := slog.New(slog.NewTextHandler(app.LogOutput(), nil)) // stderr, and the desktop app's log file
		b, err := app.NewBackend(path, s, flags, log)
		if err != nil {
			return err
		}
		if desktopApp {
			why := desktop.NoDisplay()
			if why == "" {
				return desktop.Run(b, desktop.Options{ApplySetup: applySetup(b), Exit: e.exit})
			}
			log.Info(why + ": running headless, as hubmirror serve")
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// After the first signal the next one ends the process at once, as
		// signals do by default, while the mirror lets pulls finish.
		context.AfterFunc(ctx, stop)
		return b.Serve(ctx)
	}
}

// applySetup is `hubmirror setup CLIENT --apply` with the default files
// for the mirror of b as it runs now (its settings file and address), for
// the desktop app's Set up clients window: what the command prints is
// the report.
func applySetup(b *app.Backend) func(client string) (string, error) {
	return func(client string) (string, error) {
		var out bytes.Buffer
		args := []string{client, "--apply", "--config", b.Path(), "--host", clientsetup.ClientHost(b.Settings().Listen)}
		err := runSetup(i18n.FromEnv(), runtime.GOOS, args, &out, &out)
		return out.String(), err
	}
}
