package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/proxy/setup"
	"github.com/hubmirror/hubmirror/settings"
)

// setupCmd prints the configuration that points a client at the mirror.
// What it prints for a file is the file: `hubmirror setup podman >
// registries.conf` works, with the paths in comment lines.
func setupCmd(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("usage: hubmirror setup %s|ca [--host HOST:PORT]", strings.Join(setup.Clients, "|"))
	}
	client, args := args[0], args[1:]
	fs := flag.NewFlagSet("hubmirror setup", flag.ContinueOnError)
	var flags settings.Flags
	flags.Register(fs)
	host := fs.String("host", "", "the address clients reach the mirror at (default: the listen address)")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	s, path, err := flags.Load()
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if client == "ca" {
		return printCA(s, path)
	}
	if *host == "" {
		*host = s.Listen
	}
	var opts []setup.Option
	switch s.TLS.Mode {
	case settings.TLSAuto:
		caPEM, err := proxy.EnsureCA(filepath.Dir(path))
		if err != nil {
			return err
		}
		fp, err := proxy.Fingerprint(caPEM)
		if err != nil {
			return err
		}
		opts = append(opts, setup.LocalCA(fp))
	case settings.TLSFiles:
		opts = append(opts, setup.HTTPS())
	}
	snips, err := setup.Snippets(client, *host, s.Registries(), opts...)
	if err != nil {
		return err
	}
	for i, sn := range snips {
		if i > 0 {
			fmt.Println()
		}
		c := "#" // JSON has no comments: its header lines are for people
		if sn.Lang == "json" {
			c = "//"
		}
		fmt.Printf("%s %s", c, sn.Title)
		if sn.Path != "" {
			fmt.Printf(": %s", sn.Path)
		}
		fmt.Printf("\n%s %s\n%s", c, sn.Note, sn.Text)
	}
	return nil
}

// printCA prints the local CA's certificate (PEM), making the CA when
// there is none yet, so it can be handed to clients before TLS is on.
func printCA(s settings.Settings, path string) error {
	if s.TLS.Mode == settings.TLSFiles {
		return errors.New("tls uses your own certificate (" + s.TLS.Cert + "): clients trust the CA that signed it, not hubmirror's")
	}
	caPEM, err := proxy.EnsureCA(filepath.Dir(path))
	if err != nil {
		return err
	}
	if s.TLS.Mode != settings.TLSAuto {
		fmt.Fprintln(os.Stderr, `hubmirror: tls is off; the mirror serves certificates of this CA once you turn it on (--tls auto, or "tls": "auto" in `+path+")")
	}
	_, err = os.Stdout.Write(caPEM)
	return err
}
