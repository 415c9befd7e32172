// Command hubmirror is a local pull-through mirror of Docker Hub and other
// registries. `hubmirror serve` runs it headless; `hubmirror` alone runs the
// desktop app, or headless when there is no display.
package main

import (
	"fmt"
	"os"
)

const usage = `hubmirror: a local pull-through mirror of Docker Hub

Usage:
  hubmirror [flags]          run the mirror (the tray app, where there is a display)
  hubmirror serve [flags]    run the mirror headless
  hubmirror login [REGISTRY] -u USER --password-stdin
                             check an account with the registry, then keep it in the OS keyring
  hubmirror logout [REGISTRY]
                             remove it from the keyring
  hubmirror setup docker|containerd|podman|k3s|kind|pull [--host HOST:PORT]
                             print the configuration that points a client at the mirror
  hubmirror setup docker|containerd|podman --apply|--undo [--file PATH]
                             write that configuration into the client's files, or take it out again
  hubmirror setup ca         print the mirror's local CA certificate (PEM), for clients to trust
  hubmirror cache ls|prune --to SIZE|verify|clear
                             list, shrink, check or empty the cache (through the running mirror, if one runs)
  hubmirror pin add|rm|ls [IMAGE...]
                             keep images whole, never evicted, refreshed when their tags move
  hubmirror prefetch [--platform OS/ARCH] IMAGE...
                             download images into the cache ahead of time (before a trip)
  hubmirror version          print the version

Flags (both commands):
  --listen HOST:PORT         address to serve on (default 127.0.0.1:5000)
  --cache-dir DIR            cache directory
  --cache-max SIZE           keep at most this much, e.g. 20GiB (default: a fifth of the disk)
  --config FILE              settings file
  --upstream REGISTRY=URL    send a registry's traffic to another endpoint (repeatable)
  --alias HOST=REGISTRY      requests to the mirror by this host name go to REGISTRY (repeatable)
  --self-auth                be a token realm: clients docker login to the mirror
  --allow-user NAME          with --self-auth, only these Docker Hub users may pull (repeatable)
  --tls off|auto             auto: serve HTTPS with a local CA kept next to the settings file
  --insecure-login           let other machines log in over plain HTTP (passwords in clear)

Run "hubmirror serve --help" for details.
`

func main() {
	args := os.Args[1:]
	cmd := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "", "serve":
		err = serve(cmd, args)
	case "setup":
		err = setupCmd(args)
	case "cache":
		err = cacheCmd(args)
	case "pin":
		err = pinCmd(args)
	case "prefetch":
		err = prefetchCmd(args)
	case "window": // the desktop app's window process; started by the app itself
		err = windowCmd(args)
	case "login":
		err = login(args)
	case "logout":
		err = logout(args)
	case "version":
		fmt.Println("hubmirror", version)
	case "help":
		fmt.Print(msg(usage))
	default:
		fmt.Fprintf(os.Stderr, "hubmirror: "+msg("unknown command %q")+"\n\n%s", cmd, msg(usage))
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubmirror:", err)
		os.Exit(1)
	}
}
