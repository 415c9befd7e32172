package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/proxy/setup"
	"github.com/hubmirror/hubmirror/settings"
)

// setupCmd prints the configuration that points a client at the mirror,
// in the user's language.
func setupCmd(args []string) error {
	return runSetup(i18n.FromEnv(), runtime.GOOS, args, os.Stdout, os.Stderr)
}

// runSetup is `hubmirror setup` for a user on goos who reads l. What it
// prints on stdout for a file is the file: `hubmirror setup podman >
// registries.conf` works, with titles, paths and notes in comment lines.
// JSON has no comments, so for docker stdout is exactly one daemon.json,
// the one for this OS's engine (or the one --vm or --native choose), and
// everything for people goes to stderr. It reads the settings file but
// never writes it, nor creates it when it is missing.
func runSetup(l i18n.Lang, goos string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New(l.F("usage: hubmirror setup %s|ca [--host HOST:PORT] [--vm|--native] [--config FILE]", strings.Join(setup.Clients, "|")))
	}
	client, args := args[0], args[1:]
	set := flag.NewFlagSet("hubmirror setup", flag.ContinueOnError)
	set.SetOutput(stderr)
	var flags settings.Flags
	flags.Register(set)
	host := set.String("host", "", l.T("the address clients reach the mirror at (default: the listen address)"))
	vm := set.Bool("vm", false, l.T("for Docker in a VM (Docker Desktop, Colima, Rancher Desktop): the default on macOS and Windows"))
	native := set.Bool("native", false, l.T("for Docker Engine running on this computer: the default on Linux"))
	if err := set.Parse(args); err != nil {
		return usageError(err)
	}
	if *vm && *native {
		return errors.New(l.T("choose one of --vm and --native"))
	}
	engine := setup.EngineFor(goos)
	switch {
	case *vm:
		engine = setup.VMEngine
	case *native:
		engine = setup.NativeEngine
	}
	s, path, err := loadWithoutWriting(&flags)
	if err != nil {
		return errors.New(l.F("settings: %s", l.Text(err.Error())))
	}
	if client == "ca" {
		return printCA(l, s, path, stdout, stderr)
	}
	if *host == "" {
		*host = s.Listen
	}
	opts, err := tlsOptions(s, path)
	if err != nil {
		return errors.New(l.Text(err.Error()))
	}
	snips, err := setup.Snippets(l, client, *host, s.Registries(), opts...)
	if err != nil {
		return err
	}
	snips = setup.ForEngine(snips, engine)
	if client == "docker" {
		return printDaemonJSON(l, snips, stdout, stderr)
	}
	return printSnippets(snips, stdout)
}

// loadWithoutWriting is flags.Load, except that a missing settings file
// stands for the defaults instead of being created: setup only prints.
func loadWithoutWriting(flags *settings.Flags) (settings.Settings, string, error) {
	path := flags.Config
	if path == "" {
		var err error
		if path, err = settings.DefaultPath(); err != nil {
			return settings.Settings{}, "", err
		}
	}
	flags.Config = path
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return flags.Load() // it is there, and Load only reads it
	}
	if err := flags.Check(); err != nil {
		return settings.Settings{}, path, err
	}
	s, err := settings.Defaults()
	if err != nil {
		return s, path, err
	}
	flags.Apply(&s)
	if err := s.Validate(); err != nil {
		return s, path, fmt.Errorf(i18n.Key("after applying flags: %w"), err)
	}
	return s, path, nil
}

// tlsOptions are the setup options for the mirror's TLS settings: its
// local CA's fingerprint (making the CA when there is none yet, next to
// the settings file), or plain https with the user's own certificate.
func tlsOptions(s settings.Settings, path string) ([]setup.Option, error) {
	switch s.TLS.Mode {
	case settings.TLSAuto:
		caPEM, err := proxy.EnsureCA(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		fp, err := proxy.Fingerprint(caPEM)
		if err != nil {
			return nil, fmt.Errorf(i18n.Key("local CA: %w"), err)
		}
		return []setup.Option{setup.LocalCA(fp)}, nil
	case settings.TLSFiles:
		return []setup.Option{setup.HTTPS()}, nil
	}
	return nil, nil
}

// printDaemonJSON prints the one daemon.json among snips on stdout and
// every other snippet (how Docker trusts the local CA), the title, path
// and note on stderr, so that stdout can be saved as daemon.json.
func printDaemonJSON(l i18n.Lang, snips []setup.Snippet, stdout, stderr io.Writer) error {
	var doc *setup.Snippet
	for i := range snips {
		if snips[i].Lang == "json" && doc == nil {
			doc = &snips[i]
			continue
		}
		printSnippet(stderr, snips[i])
		fmt.Fprintln(stderr)
	}
	if doc == nil {
		return errors.New(l.T("no daemon.json for this engine"))
	}
	fmt.Fprintf(stderr, "# %s: %s\n# %s\n", doc.Title, doc.Path, doc.Note)
	_, err := io.WriteString(stdout, doc.Text)
	return err
}

// printSnippets prints snips on w, one after another, each with its
// title, path and note in comment lines.
func printSnippets(snips []setup.Snippet, w io.Writer) error {
	for i, sn := range snips {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printSnippet(w, sn); err != nil {
			return err
		}
	}
	return nil
}

// printSnippet prints sn's title and path, its note and its text, the
// first two as comment lines of the TOML, YAML and shell it is written in.
func printSnippet(w io.Writer, sn setup.Snippet) error {
	header := "# " + sn.Title
	if sn.Path != "" {
		header += ": " + sn.Path
	}
	_, err := fmt.Fprintf(w, "%s\n# %s\n%s", header, sn.Note, sn.Text)
	return err
}

// printCA prints the local CA's certificate (PEM), making the CA when
// there is none yet, so it can be handed to clients before TLS is on.
func printCA(l i18n.Lang, s settings.Settings, path string, stdout, stderr io.Writer) error {
	if s.TLS.Mode == settings.TLSFiles {
		return errors.New(l.F("tls uses your own certificate (%s): clients trust the CA that signed it, not hubmirror's", s.TLS.Cert))
	}
	caPEM, err := proxy.EnsureCA(filepath.Dir(path))
	if err != nil {
		return errors.New(l.Text(err.Error()))
	}
	if s.TLS.Mode != settings.TLSAuto {
		fmt.Fprintln(stderr, "hubmirror: "+l.F(`tls is off; the mirror serves certificates of this CA once you turn it on (--tls auto, or "tls": "auto" in %s)`, path))
	}
	_, err = stdout.Write(caPEM)
	return err
}
