package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/hubmirror/hubmirror/proxy/setup"
	"github.com/hubmirror/hubmirror/settings"
)

// setupCmd prints the configuration that points a client at the mirror.
// What it prints for a file is the file: `hubmirror setup podman >
// registries.conf` works, with the paths in comment lines.
func setupCmd(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("usage: hubmirror setup %s [--host HOST:PORT]", strings.Join(setup.Clients, "|"))
	}
	client, args := args[0], args[1:]
	fs := flag.NewFlagSet("hubmirror setup", flag.ContinueOnError)
	var flags settings.Flags
	flags.Register(fs)
	host := fs.String("host", "", "the address clients reach the mirror at (default: the listen address)")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	s, _, err := flags.Load()
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if *host == "" {
		*host = s.Listen
	}
	snips, err := setup.Snippets(client, *host, s.Registries())
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
