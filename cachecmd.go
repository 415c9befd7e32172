package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

const cacheUsage = "usage: hubmirror cache ls | prune --to SIZE | verify | clear [--yes]  [--cache-dir DIR] [--config FILE]"

// cacheCmd runs `hubmirror cache ls|prune|verify|clear` on the cache
// directory of the settings (or --cache-dir): on the directory itself
// when no mirror runs on it, through the running mirror (its cache API)
// when one does. Its errors read in the user's language.
func cacheCmd(args []string) (err error) {
	defer func() { err = inUserLanguage(err) }()
	fs := newFlagSet("hubmirror cache")
	var flags settings.Flags
	flags.Register(fs)
	to := fs.String("to", "", msg("prune: the size to keep at most, e.g. 5GiB"))
	yes := fs.Bool("yes", false, msg("clear: do not ask"))
	setUsage(fs, msg(cacheUsage))
	if err := parseAnywhere(fs, args); err != nil {
		return usageError(err)
	}
	sub := fs.Arg(0)
	switch sub {
	case "ls", "verify", "prune", "clear":
	default:
		return errors.New(i18n.Key(cacheUsage))
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
	c, via, err := mirror.OpenCacheStore(s.CacheDir)
	if err != nil {
		return err
	}
	defer c.Close()
	if via != "" {
		fmt.Fprintf(os.Stderr, msg("A mirror runs on %s (listening on %s): asking it.")+"\n", s.CacheDir, via)
	}
	switch sub {
	case "ls":
		return cacheList(c)
	case "verify":
		return cacheVerify(c)
	case "prune":
		return cachePrune(c, limit)
	}
	return cacheClear(c, s.CacheDir, *yes)
}

// cacheList prints the cached images, one a line, and the cache's size.
func cacheList(c mirror.CacheStore) error {
	imgs, err := c.Images()
	if err != nil {
		return err
	}
	size, err := c.Bytes()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, msg("IMAGE\tDIGEST\tSIZE\t"))
	for _, im := range imgs {
		partial := ""
		if !im.Complete {
			partial = msg("(partly cached)")
		}
		fmt.Fprintf(w, "%s/%s:%s\t%s\t%s\t%s\n", im.Registry, im.Repo, im.Tag, im.Digest[:19], settings.FormatSize(im.Size), partial)
	}
	fmt.Fprintf(w, msg("\t\t%s\tin all\n"), settings.FormatSize(size))
	return w.Flush()
}

// cachePrune evicts the least recently used blobs down to limit bytes and
// says what it freed and what is left, also when it could remove only
// some.
func cachePrune(c mirror.CacheStore, limit int64) error {
	n, freed, err := c.Prune(limit)
	left, sizeErr := c.Bytes()
	if sizeErr == nil { // what was removed, also when removing some failed
		fmt.Printf(msg("Removed %d blobs (%s); %s left.\n"), n, settings.FormatSize(freed), settings.FormatSize(left))
	}
	if err != nil {
		return err
	}
	return sizeErr
}

// cacheClear empties the cache, asking first on a terminal unless yes.
func cacheClear(c mirror.CacheStore, dir string, yes bool) error {
	size, err := c.Bytes()
	if err != nil {
		return err
	}
	if !yes && !confirm(fmt.Sprintf(msg("Remove everything in %s (%s)?"), dir, settings.FormatSize(size))) {
		return errors.New(i18n.Key("nothing removed (use --yes to clear without asking)"))
	}
	if err := c.Clear(); err != nil {
		return err
	}
	fmt.Println(msg("The cache is empty."))
	return nil
}

// cacheVerify checks every blob against its digest, removing the corrupt
// ones, with a progress bar on a terminal.
func cacheVerify(c mirror.CacheStore) error {
	tty := isTerminal(os.Stderr)
	bad, err := c.Verify(func(done, total int) {
		if tty {
			fmt.Fprintf(os.Stderr, "\r"+msg("%s verifying %d/%d blobs"), bar(done, total), done, total)
		}
	})
	if tty {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	if len(bad) == 0 {
		fmt.Println(msg("Every cached blob matches its digest."))
		return nil
	}
	for _, d := range bad {
		fmt.Println(msg("corrupt, removed:"), d)
	}
	return fmt.Errorf(i18n.Key("%d corrupt blobs removed; they will be downloaded again when pulled"), len(bad))
}

// bar draws a 20-character progress bar.
func bar(done, total int) string {
	n := 20
	if total > 0 {
		n = done * 20 / total
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(" ", 20-n) + "]"
}

// isTerminal reports whether f is a terminal: a character device other
// than /dev/null.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(info, null)
}

// confirm asks a yes/no question on a terminal; elsewhere it is no.
func confirm(q string) bool {
	if !isTerminal(os.Stdin) {
		return false
	}
	fmt.Printf("%s %s ", q, msg("[y/N]"))
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
}
