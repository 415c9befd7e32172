package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hubmirror/hubmirror/internal/clientconf"
	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// machine is what `hubmirror setup --apply` needs to know of the computer
// it runs on, so that a test can stand in for another: its OS, the user's
// home, whether the user is root, and how files are written.
type machine struct {
	goos string
	home string // the user's home folder; "" when there is none
	root bool
	disk clientconf.Disk
	// configHome is $XDG_CONFIG_HOME, where rootless podman looks first.
	configHome string
	// systemRegistries is the system's registries.conf, which a user's new
	// one starts as a copy of.
	systemRegistries string
}

// thisMachine is the computer hubmirror runs on, as goos (which tests set)
// names its OS.
func thisMachine(goos string) machine {
	home, _ := os.UserHomeDir()
	return machine{goos: goos, home: home, root: os.Geteuid() == 0, configHome: os.Getenv("XDG_CONFIG_HOME"),
		systemRegistries: "/etc/containers/registries.conf"}
}

// runSetup is `hubmirror setup ARGS` for a user on goos who reads l, as
// the command line runs it, printing on stdout and stderr. It returns
// flag.ErrHelp or errFlags for -h and a flag mistake, errUsage without a
// client.
func runSetup(l i18n.Lang, goos string, args []string, stdout, stderr io.Writer) error {
	return lookup("setup").exec(&env{stdout: stdout, stderr: stderr, lang: l, goos: goos}, args)
}

// runSetupOn is runSetup on machine m.
func runSetupOn(l i18n.Lang, m machine, args []string, stdout, stderr io.Writer) error {
	return lookup("setup").exec(&env{stdout: stdout, stderr: stderr, lang: l, goos: m.goos, machine: &m}, args)
}

// setupFlags is `hubmirror setup CLIENT`. What it prints on stdout for a
// file is the file: `hubmirror setup podman > registries.conf` works, with
// titles, paths and notes in comment lines. JSON has no comments, so for
// docker stdout is exactly one daemon.json, the one for this OS's engine
// (or the one --vm or --native choose), and everything for people goes to
// stderr. It reads the settings file but never writes it, nor creates it
// when it is missing. With --apply or --undo it changes the client's
// files (applyRequest.run) instead of printing them.
func setupFlags(set *flag.FlagSet, e *env) func([]string) error {
	var flags settings.Flags
	flags.Register(set)
	host := set.String("host", "", i18n.Key("the address clients reach the mirror at (default: the listen address)"))
	vm := set.Bool("vm", false, i18n.Key("for Docker in a VM (Docker Desktop, Colima, Rancher Desktop): the default on macOS and Windows"))
	native := set.Bool("native", false, i18n.Key("for Docker Engine running on this computer: the default on Linux"))
	var ap applyFlags
	ap.register(set)
	return func(args []string) error {
		if len(args) == 0 {
			return errUsage{lookup("setup")}
		}
		l, stdout, stderr := e.lang, e.stdout, e.stderr
		m := thisMachine(e.goos)
		if e.machine != nil {
			m = *e.machine
		}
		client := args[0]
		if *vm && *native {
			return errors.New(l.T("choose one of --vm and --native"))
		}
		if err := ap.check(l, client, set); err != nil {
			return err
		}
		engine := clientsetup.EngineFor(m.goos)
		switch {
		case *vm:
			engine = clientsetup.VMEngine
		case *native:
			engine = clientsetup.NativeEngine
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
		req := applyRequest{l: l, m: m, client: client, args: withoutFirstArg(set, e.args), flags: ap,
			engine: engine, engineChosen: *vm || *native, host: clientsetup.ClientHost(*host), config: flags.Config}
		if ap.undo { // needs no snippets, nor the local CA they would make
			return req.run(stdout)
		}
		opts, err := tlsOptions(s, path)
		if err != nil {
			return errors.New(l.Text(err.Error()))
		}
		snips, err := clientsetup.Snippets(l, client, *host, s.Registries(), opts...)
		if err != nil {
			return err
		}
		if ap.apply {
			req.snips = snips
			return req.run(stdout)
		}
		snips = clientsetup.ForEngine(snips, engine)
		if client == "docker" {
			return printDaemonJSON(l, snips, stdout, stderr)
		}
		return printSnippets(snips, stdout)
	}
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
func tlsOptions(s settings.Settings, path string) ([]clientsetup.Option, error) {
	switch s.TLS.Mode {
	case settings.TLSAuto:
		caPEM, err := mirror.EnsureCA(filepath.Dir(path))
		if err != nil {
			return nil, err
		}
		fp, err := mirror.Fingerprint(caPEM)
		if err != nil {
			return nil, fmt.Errorf(i18n.Key("local CA: %w"), err)
		}
		return []clientsetup.Option{clientsetup.LocalCA(fp)}, nil
	case settings.TLSFiles:
		return []clientsetup.Option{clientsetup.HTTPS()}, nil
	}
	return nil, nil
}

// printDaemonJSON prints the one daemon.json among snips on stdout and
// every other snippet (how Docker trusts the local CA), the title, path
// and note on stderr, so that stdout can be saved as daemon.json.
func printDaemonJSON(l i18n.Lang, snips []clientsetup.Snippet, stdout, stderr io.Writer) error {
	var doc *clientsetup.Snippet
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
func printSnippets(snips []clientsetup.Snippet, w io.Writer) error {
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
func printSnippet(w io.Writer, sn clientsetup.Snippet) error {
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
	caPEM, err := mirror.EnsureCA(filepath.Dir(path))
	if err != nil {
		return errors.New(l.Text(err.Error()))
	}
	if s.TLS.Mode != settings.TLSAuto {
		fmt.Fprintln(stderr, "hubmirror: "+l.F(`tls is off; the mirror serves certificates of this CA once you turn it on (--tls auto, or "tls": "auto" in %s)`, path))
	}
	_, err = stdout.Write(caPEM)
	return err
}

// The defaults of --dir and --containerd-config: where containerd's
// packages keep hosts.toml files and the config.
const (
	defaultHostsDir         = "/etc/containerd/certs.d"
	defaultContainerdConfig = "/etc/containerd/config.toml"
)

// applyFlags are the flags of `hubmirror setup CLIENT --apply|--undo`.
type applyFlags struct {
	apply, undo      bool
	file             string // docker's daemon.json, podman's registries.conf
	dir              string // containerd's hosts.toml folder
	containerdConfig string // containerd's config.toml, read only
}

// register adds the flags to set.
func (a *applyFlags) register(set *flag.FlagSet) {
	set.BoolVar(&a.apply, "apply", false, i18n.Key("write the configuration into the client's own files (docker, containerd, podman)"))
	set.BoolVar(&a.undo, "undo", false, i18n.Key("remove what --apply added"))
	set.StringVar(&a.file, "file", "", i18n.Key("with --apply or --undo: the daemon.json (docker) or registries.conf (podman) to change (default: the engine's)"))
	set.StringVar(&a.dir, "dir", defaultHostsDir, i18n.Key("with --apply or --undo: the folder of containerd's hosts.toml files"))
	set.StringVar(&a.containerdConfig, "containerd-config", defaultContainerdConfig, i18n.Key("with --apply: containerd's config.toml, read to check config_path (never changed)"))
}

// check refuses flags that make no sense together, rather than ignore
// what the user asked for.
func (a applyFlags) check(l i18n.Lang, client string, set *flag.FlagSet) error {
	given := map[string]bool{}
	set.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case a.apply && a.undo:
		return errors.New(l.T("choose one of --apply and --undo"))
	case (a.apply || a.undo) && client != "docker" && client != "containerd" && client != "podman":
		return errors.New(l.F("--apply and --undo are for docker, containerd and podman, not %s", client))
	case !a.apply && !a.undo && (given["file"] || given["dir"] || given["containerd-config"]):
		return errors.New(l.T("--file, --dir and --containerd-config go with --apply or --undo"))
	case given["file"] && client == "containerd":
		return errors.New(l.T("containerd takes --dir (and --containerd-config), not --file"))
	case (given["dir"] || given["containerd-config"]) && client != "containerd":
		return errors.New(l.T("--dir and --containerd-config are for containerd"))
	}
	return nil
}

// applyRequest is one `hubmirror setup CLIENT --apply|--undo`.
type applyRequest struct {
	l      i18n.Lang
	m      machine
	client string
	args   []string // the command's arguments but the client, for the sudo line
	flags  applyFlags
	snips  []clientsetup.Snippet // the client's snippets (all engines); nil for --undo
	// engine is the Docker engine --vm or --native chose (engineChosen),
	// else this OS's usual one.
	engine       clientsetup.Engine
	engineChosen bool
	host         string // the mirror's address as clients dial it
	config       string // the settings file
}

// run does the request, saying on w what it changed and what is left for
// the user to do.
func (r applyRequest) run(w io.Writer) error {
	switch r.client {
	case "docker":
		return r.docker(w)
	case "containerd":
		return r.containerd(w)
	}
	return r.podman(w)
}

// fail is err for the user: when a file could not be written for want of
// rights, the command that does it as root.
func (r applyRequest) fail(err error, file string) error {
	if errors.Is(err, fs.ErrPermission) {
		return errors.New(r.l.F("cannot write %s: permission denied. Run it as root:", file) + "\n  " + r.sudo(file))
	}
	return errors.New(r.l.Text(err.Error()))
}

// sudo is the command that repeats the request as root: the user's own
// arguments, plus the file, the mirror's address and the settings file
// resolved here, since root's home and settings are not the user's.
func (r applyRequest) sudo(file string) string {
	words := []string{"sudo", "hubmirror", "setup", r.client}
	words = append(words, r.args...)
	given := map[string]bool{}
	for _, a := range r.args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") {
			given[name] = true
		}
	}
	if file != "" && r.client != "containerd" && !given["file"] {
		words = append(words, "--file", file)
	}
	if r.flags.apply && !given["host"] {
		words = append(words, "--host", r.host)
	}
	if r.client == "docker" && !r.engineChosen && r.engine != clientsetup.EngineFor(r.m.goos) {
		if r.engine == clientsetup.VMEngine {
			words = append(words, "--vm")
		} else {
			words = append(words, "--native")
		}
	}
	if r.config != "" && !given["config"] {
		words = append(words, "--config", r.config)
	}
	for i, word := range words {
		words[i] = shellQuote(word)
	}
	return strings.Join(words, " ")
}

// shellQuote is s as one word for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dockerTarget is the daemon.json to change, the engine that reads it and
// what to call it: --file; else on Linux the system engine's; on macOS and
// Windows OrbStack's when ~/.orbstack exists, else Docker Desktop's.
func (r applyRequest) dockerTarget() (path string, engine clientsetup.Engine, name string, err error) {
	engine = r.engine
	switch {
	case r.flags.file != "":
		return r.flags.file, engine, r.l.T("the daemon.json you named"), nil
	case r.m.goos != "darwin" && r.m.goos != "windows":
		if !r.engineChosen {
			engine = clientsetup.NativeEngine
		}
		return "/etc/docker/daemon.json", engine, r.l.T("Docker Engine on this computer"), nil
	case r.m.home == "":
		return "", engine, "", errors.New(r.l.T("no home folder to find Docker's daemon.json in: name it with --file"))
	}
	if !r.engineChosen {
		engine = clientsetup.VMEngine
	}
	if fi, err := os.Stat(filepath.Join(r.m.home, ".orbstack")); err == nil && fi.IsDir() {
		return filepath.Join(r.m.home, ".orbstack", "config", "docker.json"), engine, "OrbStack", nil
	}
	return filepath.Join(r.m.home, ".docker", "daemon.json"), engine, "Docker Desktop", nil
}

// restartHint is how to make the engine that reads daemon.json at path
// (called name) read it again.
func (r applyRequest) restartHint(name string, engine clientsetup.Engine) string {
	switch {
	case name == "OrbStack":
		return r.l.T("Restart OrbStack's engine to load it: orb restart docker (or Restart in OrbStack's menu).")
	case engine == clientsetup.VMEngine:
		return r.l.T("Restart Docker Desktop to load it: Restart in its menu (the whale icon).")
	}
	return r.l.T("Restart Docker to load it: sudo systemctl restart docker")
}

// docker is --apply or --undo for Docker's daemon.json.
func (r applyRequest) docker(w io.Writer) error {
	l := r.l
	path, engine, name, err := r.dockerTarget()
	if err != nil {
		return err
	}
	if r.flags.file == "" {
		fmt.Fprintln(w, l.F("%s: %s (--file names another daemon.json)", name, path))
	}
	disk := r.m.disk
	if r.flags.undo {
		ch, err := disk.UndoDocker(path)
		if err != nil {
			return r.fail(err, path)
		}
		switch ch.Action {
		case clientconf.NothingToUndo:
			fmt.Fprintln(w, l.F("%s: nothing to undo (no %s: hubmirror setup docker --apply did not change it).", path, path+clientconf.RecordSuffix))
			return nil
		case clientconf.Unchanged:
			fmt.Fprintln(w, l.F("%s: what hubmirror setup docker --apply added is gone already.", path))
			return nil
		case clientconf.Removed:
			fmt.Fprintln(w, l.F("Removed %s, which hubmirror setup docker --apply had made.", path))
		default:
			fmt.Fprintln(w, l.F("%s: took back what hubmirror setup docker --apply added; the rest is as it was.", path))
		}
		fmt.Fprintln(w, r.restartHint(name, engine))
		return nil
	}
	snip, ok := findSnippet(clientsetup.ForEngine(r.snips, engine), func(s clientsetup.Snippet) bool { return s.Lang == "json" })
	if !ok {
		return errors.New(l.T("no daemon.json for this engine"))
	}
	want, err := clientconf.DockerFromSnippet(snip.Text)
	if err != nil {
		return errors.New(l.Text(err.Error()))
	}
	ch, err := disk.ApplyDocker(path, want)
	if err != nil {
		return r.fail(err, path)
	}
	if ch.Action == clientconf.Unchanged {
		fmt.Fprintln(w, l.F("%s already pulls through %s: nothing changed.", path, want.Mirror))
		r.printTrust(w, engine)
		return nil
	}
	fmt.Fprintln(w, l.F("Wrote %s: %s is first in registry-mirrors; every other key and mirror is as it was.", path, want.Mirror))
	if want.Insecure != "" {
		fmt.Fprintln(w, l.F("%s is in insecure-registries: the mirror serves plain http.", want.Insecure))
	}
	if ch.Backup != "" {
		fmt.Fprintln(w, l.F("The old file is saved as %s.", ch.Backup))
	}
	fmt.Fprintln(w, l.F("hubmirror setup docker --undo takes it back (it reads %s).", path+clientconf.RecordSuffix))
	fmt.Fprintln(w, r.restartHint(name, engine))
	r.printTrust(w, engine)
	return nil
}

// printTrust prints, with the local CA, how the client trusts it: --apply
// writes the configuration, not the certificate.
func (r applyRequest) printTrust(w io.Writer, engine clientsetup.Engine) {
	for _, s := range clientsetup.ForEngine(r.snips, engine) {
		if s.Lang == "sh" && strings.HasSuffix(s.Path, ".crt") {
			fmt.Fprintln(w)
			fmt.Fprintln(w, r.l.T("Still to do: the client must trust the mirror's CA."))
			printSnippet(w, s)
		}
	}
}

// findSnippet is the first of snips that ok accepts.
func findSnippet(snips []clientsetup.Snippet, ok func(clientsetup.Snippet) bool) (clientsetup.Snippet, bool) {
	for _, s := range snips {
		if ok(s) {
			return s, true
		}
	}
	return clientsetup.Snippet{}, false
}

// containerd is --apply or --undo for containerd's hosts.toml files; with
// --apply it then says whether config.toml makes containerd read them.
func (r applyRequest) containerd(w io.Writer) error {
	l := r.l
	dir, err := filepath.Abs(r.flags.dir) // config_path and --hosts-dir want it whole
	if err != nil {
		return errors.New(l.Text(err.Error()))
	}
	r.flags.dir = dir
	disk := r.m.disk
	if r.flags.undo {
		changes, err := disk.UndoContainerd(dir)
		if err != nil {
			return r.fail(err, dir)
		}
		if len(changes) == 0 {
			fmt.Fprintln(w, l.F("%s: no hosts.toml of hubmirror's, nothing to undo.", dir))
		}
		for _, ch := range changes {
			switch ch.Action {
			case clientconf.Removed:
				fmt.Fprintln(w, l.F("Removed %s.", ch.Path))
			case clientconf.Restored:
				fmt.Fprintln(w, l.F("Put back your %s from before hubmirror setup containerd --apply.", ch.Path))
			case clientconf.KeptChanged:
				fmt.Fprintln(w, l.F("Kept %s: it changed since hubmirror wrote it.", ch.Path))
			}
		}
		return nil
	}
	hosts := map[string]string{}
	for _, s := range r.snips {
		reg, ok := strings.CutPrefix(s.Path, defaultHostsDir+"/")
		if reg, ok2 := strings.CutSuffix(reg, "/hosts.toml"); ok && ok2 && s.Lang == "toml" {
			hosts[reg] = s.Text
		}
	}
	check, err := r.checkContainerdConfig()
	if err != nil {
		return err
	}
	changes, err := disk.ApplyContainerd(dir, hosts)
	if err != nil {
		return r.fail(err, dir)
	}
	for _, ch := range changes {
		switch {
		case ch.Action == clientconf.Unchanged:
			fmt.Fprintln(w, l.F("%s is as it should be.", ch.Path))
		case ch.Backup != "":
			fmt.Fprintln(w, l.F("Wrote %s; yours is saved as %s.", ch.Path, ch.Backup))
		default:
			fmt.Fprintln(w, l.F("Wrote %s.", ch.Path))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, check)
	fmt.Fprintln(w, l.F("ctr reads no config_path: pull with sudo ctr images pull --hosts-dir %s IMAGE.", dir))
	r.printTrust(w, clientsetup.AnyEngine)
	return nil
}

// checkContainerdConfig is what containerd's config.toml says about the
// hosts.toml folder, for the user. A config.toml that does not parse is an
// error, before anything is written; one that cannot be read is reported
// with the lines for both versions.
func (r applyRequest) checkContainerdConfig() (string, error) {
	path := r.flags.containerdConfig
	data, err := os.ReadFile(path)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return r.l.F("Cannot read %s (%s). The lines containerd needs there to read %s:", path, err, r.flags.dir) + "\n" +
			r.l.T("containerd 1.x (config version 2):") + "\n" + clientconf.Lines(2, r.flags.dir) +
			r.l.T("containerd 2.x (config version 3):") + "\n" + clientconf.Lines(3, r.flags.dir), nil
	}
	c, err := clientconf.CheckContainerd(path, data, missing, r.flags.dir)
	if err != nil {
		return "", errors.New(r.l.F("%s: %s (nothing written)", path, r.l.Text(err.Error())))
	}
	return c.Advice(r.l), nil
}

// podmanTarget is the registries.conf to change and, for a new one, the
// file it starts as a copy of: --file; root's is the system's; a user's is
// in their config folder, starting from the system's, which rootless
// podman stops reading once the user has their own.
func (r applyRequest) podmanTarget() (path, seed string, err error) {
	system := r.m.systemRegistries
	switch {
	case r.flags.file != "":
		return r.flags.file, "", nil
	case r.m.root:
		return system, "", nil
	case r.m.configHome != "":
		return filepath.Join(r.m.configHome, "containers", "registries.conf"), system, nil
	case r.m.home == "":
		return "", "", errors.New(r.l.T("no home folder to find podman's registries.conf in: name it with --file"))
	}
	return filepath.Join(r.m.home, ".config", "containers", "registries.conf"), system, nil
}

// podman is --apply or --undo for podman's registries.conf.
func (r applyRequest) podman(w io.Writer) error {
	l := r.l
	path, seed, err := r.podmanTarget()
	if err != nil {
		return err
	}
	disk := r.m.disk
	if r.flags.undo {
		ch, err := disk.UndoPodman(path, seed)
		if err != nil {
			return r.fail(err, path)
		}
		switch ch.Action {
		case clientconf.NothingToUndo:
			fmt.Fprintln(w, l.F("%s has no hubmirror block: nothing to undo.", path))
		case clientconf.Removed:
			fmt.Fprintln(w, l.F("Removed %s, which hubmirror setup podman --apply had made.", path))
		default:
			fmt.Fprintln(w, l.F("Removed hubmirror's block from %s; the rest is as it was.", path))
		}
		return nil
	}
	snip, ok := findSnippet(r.snips, func(s clientsetup.Snippet) bool { return s.Lang == "toml" })
	if !ok {
		return errors.New(l.T("no registries.conf for podman"))
	}
	ch, err := disk.ApplyPodman(path, snip.Text, seed)
	if err != nil {
		return r.fail(err, path)
	}
	if ch.Action == clientconf.Unchanged {
		fmt.Fprintln(w, l.F("%s already has hubmirror's block: nothing changed.", path))
	} else {
		fmt.Fprintln(w, l.F("Wrote hubmirror's block (between # BEGIN hubmirror and # END hubmirror) into %s; the rest is as it was.", path))
		if ch.Seed != "" {
			fmt.Fprintln(w, l.F("The file is new: it starts as a copy of %s, which podman stops reading once you have your own.", ch.Seed))
		}
		fmt.Fprintln(w, l.T("podman, skopeo and buildah read it at the next pull: nothing to restart. hubmirror setup podman --undo takes it back."))
	}
	r.printTrust(w, clientsetup.AnyEngine)
	return nil
}
