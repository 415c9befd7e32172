package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/hubmirror/hubmirror/internal/app"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// cacheFlags is `hubmirror cache ls|prune|verify|clear` on the cache
// directory of the settings (or --cache-dir): on the directory itself
// when no mirror runs on it, through the running mirror (its cache API)
// when one does.
func cacheFlags(fs *flag.FlagSet, e *env) func([]string) error {
	var flags settings.Flags
	flags.Register(fs)
	to := fs.String("to", "", i18n.Key("prune: the size to keep at most, e.g. 5GiB"))
	yes := fs.Bool("yes", false, i18n.Key("clear, and prune on a store: do not ask"))
	grace := fs.Duration("grace", mirror.DefaultStoreGrace, i18n.Key("prune on a store: keep the blobs used within this long (0: none, when no mirror serves from the store)"))
	return func(args []string) error {
		sub := ""
		if len(args) > 0 {
			sub = args[0]
		}
		switch sub {
		case "ls", "verify", "prune", "clear":
		default:
			return errUsage{lookup("cache")}
		}
		limit, err := settings.ParseSize(*to)
		if *to == "0" {
			limit, err = 0, nil
		}
		if sub == "prune" && err != nil {
			return fmt.Errorf(i18n.Key("--%s %q %v"), "to", *to, err)
		}
		s, _, err := flags.Load()
		if err != nil {
			return fmt.Errorf(i18n.Key("settings: %w"), err)
		}
		graceSet := false
		fs.Visit(func(f *flag.Flag) { graceSet = graceSet || f.Name == "grace" })
		switch {
		case *grace < 0:
			return fmt.Errorf(i18n.Key("--grace %s: give a duration of 0 or more, e.g. 25h"), *grace)
		case graceSet && (sub != "prune" || s.Store == ""):
			return errors.New(i18n.Key("--grace applies to cache prune on a store: set store in the settings, or --store"))
		case sub == "prune" && s.Store != "":
			// The store is every mirror's on it: not pruned by mistake.
			if !*yes && !confirm(e, e.F("Prune the object store %s, which every mirror on it shares, down to %s?", settings.RedactedStoreURL(s.Store), settings.FormatSize(limit))) {
				return errors.New(i18n.Key("nothing removed from the store (use --yes to prune it without asking)"))
			}
			return storePrune(e, cacheStoreConfig(s), limit, *grace)
		}
		c, via, err := mirror.OpenCacheStore(s.CacheDir)
		if err != nil {
			return err
		}
		defer c.Close()
		if via != "" {
			fmt.Fprintf(e.stderr, e.T("A mirror runs on %s (listening on %s): asking it.")+"\n", s.CacheDir, via)
		}
		switch sub {
		case "ls":
			return cacheList(e, c)
		case "verify":
			return cacheVerify(e, c)
		case "prune":
			return cachePrune(e, c, limit)
		}
		return cacheClear(e, c, s.CacheDir, *yes)
	}
}

// cacheList prints the cached images, one a line, and the cache's size.
func cacheList(e *env, c mirror.CacheStore) error {
	imgs, err := c.Images()
	if err != nil {
		return err
	}
	size, err := c.Bytes()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, e.T("IMAGE\tDIGEST\tSIZE\t"))
	for _, im := range imgs {
		partial := ""
		if !im.Complete {
			partial = e.T("(partly cached)")
		}
		fmt.Fprintf(w, "%s/%s:%s\t%s\t%s\t%s\n", im.Registry, im.Repo, im.Tag, im.Digest[:19], settings.FormatSize(im.Size), partial)
	}
	fmt.Fprintf(w, e.T("\t\t%s\tin all\n"), settings.FormatSize(size))
	return w.Flush()
}

// cachePrune evicts the least recently used blobs down to limit bytes and
// says what it freed and what is left, also when it could remove only
// some.
func cachePrune(e *env, c mirror.CacheStore, limit int64) error {
	n, freed, err := c.Prune(limit)
	left, sizeErr := c.Bytes()
	if sizeErr == nil { // what was removed, also when removing some failed
		fmt.Fprintf(e.stdout, e.T("Removed %d blobs (%s); %s left.\n"), n, settings.FormatSize(freed), settings.FormatSize(left))
	}
	if err != nil {
		return err
	}
	return sizeErr
}

// cacheStoreConfig is the store `hubmirror cache` acts on, and its keys:
// the settings' store, with the same keys serve uses (the AWS environment
// variables, the keyring account of `hubmirror login s3://…`, the shared
// credentials file).
func cacheStoreConfig(s settings.Settings) mirror.Config {
	cfg := mirror.Config{Store: s.Store}
	if s.Store != "" {
		cfg.StoreCredentials = app.StoreCredentials(s.Store)
	}
	return cfg
}

// storePrune deletes the least recently used blobs from the store down to
// limit bytes, keeping what the mirrors on it pinned or used within
// grace, and says what it freed and what is left. The cache directory is
// left as it is.
func storePrune(e *env, cfg mirror.Config, limit int64, grace time.Duration) error {
	res, err := mirror.PruneStore(context.Background(), cfg, limit, grace)
	if res.Store == "" {
		return err // the store could not be opened
	}
	fmt.Fprintf(e.stderr, e.T("On the store %s (pinned images and blobs used within %s kept; the cache directory left as it is):")+"\n", res.Store, grace)
	fmt.Fprintf(e.stdout, e.T("Removed %d blobs (%s); %s left.\n"), res.Blobs, settings.FormatSize(res.Freed), settings.FormatSize(res.Left))
	return err
}

// cacheClear empties the cache, asking first on a terminal unless yes.
func cacheClear(e *env, c mirror.CacheStore, dir string, yes bool) error {
	size, err := c.Bytes()
	if err != nil {
		return err
	}
	if !yes && !confirm(e, e.F("Remove everything in %s (%s)?", dir, settings.FormatSize(size))) {
		return errors.New(i18n.Key("nothing removed (use --yes to clear without asking)"))
	}
	if err := c.Clear(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, e.T("The cache is empty."))
	return nil
}

// cacheVerify checks every blob against its digest, removing the corrupt
// ones, with a progress bar on a terminal.
func cacheVerify(e *env, c mirror.CacheStore) error {
	tty := isTerminal(e.stderr)
	bad, err := c.Verify(func(done, total int) {
		if tty {
			fmt.Fprintf(e.stderr, "\r"+e.T("%s verifying %d/%d blobs"), bar(done, total), done, total)
		}
	})
	if tty {
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		return err
	}
	if len(bad) == 0 {
		fmt.Fprintln(e.stdout, e.T("Every cached blob matches its digest."))
		return nil
	}
	for _, d := range bad {
		fmt.Fprintln(e.stdout, e.T("corrupt, removed:"), d)
	}
	return fmt.Errorf(i18n.Key("%d corrupt blobs removed; they will be downloaded again when pulled"), len(bad))
}
