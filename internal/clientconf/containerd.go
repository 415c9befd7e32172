package clientconf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// hostsMarker starts every hosts.toml ApplyContainerd writes, with the
// SHA-256 of the rest of the file: UndoContainerd removes a file only when
// it starts so and the rest still has that hash, that is, only a file
// hubmirror wrote and nobody changed since. No record elsewhere is needed.
const hostsMarker = "# written by hubmirror setup containerd --apply; --undo removes it while it is unchanged. sha256:"

// HostsFile is the hosts.toml to write for one registry: body (the
// snippet's text) after the marker line.
func HostsFile(body string) []byte {
	sum := sha256.Sum256([]byte(body))
	return []byte(hostsMarker + hex.EncodeToString(sum[:]) + "\n" + body)
}

// HostsState is what a hosts.toml on disk is to hubmirror.
type HostsState int

// The states of a hosts.toml.
const (
	// HostsForeign is a file hubmirror did not write: the user's own.
	HostsForeign HostsState = iota
	// HostsOurs is a file hubmirror wrote, unchanged since.
	HostsOurs
	// HostsChanged is a file hubmirror wrote that someone changed since.
	HostsChanged
)

// StateOfHosts tells whether data is a hosts.toml hubmirror wrote and
// whether it is unchanged.
func StateOfHosts(data []byte) HostsState {
	rest, ok := bytes.CutPrefix(data, []byte(hostsMarker))
	if !ok {
		return HostsForeign
	}
	sum, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || !bytes.Equal(HostsFile(string(body)), data) || len(sum) != 64 {
		return HostsChanged
	}
	return HostsOurs
}

// Containerd versions' tables for config_path, by config.toml's version:
// containerd 1.x reads version 1 (short plugin names) and 2, containerd 2.x
// version 3 (and migrates the older ones).
var registryTables = map[int]string{
	1: `plugins.cri.registry`,
	2: `plugins."io.containerd.grpc.v1.cri".registry`,
	3: `plugins."io.containerd.cri.v1.images".registry`,
}

// pluginPath is the path of keys to each version's registry table.
var pluginPath = map[int][]string{
	1: {"plugins", "cri", "registry"},
	2: {"plugins", "io.containerd.grpc.v1.cri", "registry"},
	3: {"plugins", "io.containerd.cri.v1.images", "registry"},
}

// defaultCertsDir is the config_path containerd 2.x uses when its
// config.toml sets none.
const defaultCertsDir = "/etc/containerd/certs.d"

// ContainerdCheck is what a containerd config.toml says about where it
// reads hosts.toml files, against the folder they were written to.
type ContainerdCheck struct {
	Path    string // the config.toml
	Dir     string // where the hosts.toml files are
	Missing bool   // there is no config.toml
	// Version is the file's config version: 1 when it names none (as
	// containerd reads it), 2 for containerd 1.x's, 3 for 2.x's.
	Version int
	// ConfigPath is config_path as the file sets it, "" when it does not.
	ConfigPath string
	// Reads says containerd reads Dir: config_path names it (or, on 2.x,
	// is unset and Dir is the default).
	Reads bool
	// TableLine is the line of the registry table's header when the file
	// has one (the lines then go into it, not in a second copy), else 0.
	TableLine int
	// Mirrors says the table also sets the deprecated mirrors or configs,
	// which containerd refuses together with config_path.
	Mirrors bool
}

// CheckContainerd reads data, the config.toml at path (missing when there
// is none), and says whether that containerd reads hosts.toml files from
// dir. It never changes the file. Bad TOML is an error naming the line.
func CheckContainerd(path string, data []byte, missing bool, dir string) (ContainerdCheck, error) {
	c := ContainerdCheck{Path: path, Dir: dir, Missing: missing}
	if missing {
		return c, nil
	}
	var conf map[string]any
	if _, err := toml.Decode(string(data), &conf); err != nil {
		return c, tomlError(err)
	}
	c.Version = 1
	switch v := conf["version"].(type) {
	case int64:
		c.Version = int(v)
	case nil:
	default:
		return c, fmt.Errorf(i18n.Key("version is not a number: %v"), v)
	}
	keys, ok := pluginPath[c.Version]
	if !ok {
		return c, fmt.Errorf(i18n.Key("config version %d is not one containerd 1.x or 2.x reads"), c.Version)
	}
	table, found := lookupTable(conf, keys)
	if found {
		c.TableLine = tableLine(data, registryTables[c.Version])
		_, m := table["mirrors"]
		_, cf := table["configs"]
		c.Mirrors = m || cf
	}
	c.ConfigPath, _ = table["config_path"].(string)
	c.Reads = readsDir(c.ConfigPath, dir) || (c.ConfigPath == "" && c.Version == 3 && filepath.Clean(dir) == defaultCertsDir)
	return c, nil
}

// readsDir reports whether config_path (a list of folders, as containerd
// allows) includes dir.
func readsDir(configPath, dir string) bool {
	for _, p := range filepath.SplitList(configPath) {
		if p != "" && filepath.Clean(p) == filepath.Clean(dir) {
			return true
		}
	}
	return false
}

// lookupTable follows keys down conf's tables.
func lookupTable(conf map[string]any, keys []string) (map[string]any, bool) {
	t := conf
	for _, k := range keys {
		next, ok := t[k].(map[string]any)
		if !ok {
			return nil, false
		}
		t = next
	}
	return t, true
}

// tableLine is the line of data whose header is [name], or 0: TOML lets a
// table be written in other ways (dotted keys), which then go unnamed.
func tableLine(data []byte, name string) int {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if h, ok := strings.CutPrefix(line, "["); ok {
			h, _, _ = strings.Cut(h, "]")
			if strings.ReplaceAll(h, " ", "") == name {
				return i + 1
			}
		}
	}
	return 0
}

// tomlError is a TOML parse error as "line N: what is wrong".
func tomlError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf(i18n.Key("line %d: %s"), pe.Position.Line, pe.Message)
	}
	return err
}

// Lines are the lines to add to config.toml of version v so that it reads
// dir.
func Lines(v int, dir string) string {
	return "[" + registryTables[v] + "]\n  config_path = " + fmt.Sprintf("%q", dir) + "\n"
}

// Advice is what the user reads about c, in l: that containerd reads the
// folder, or what to add to config.toml, and where.
func (c ContainerdCheck) Advice(l i18n.Lang) string {
	if c.Missing {
		return l.F("There is no %s. containerd 1.x needs these lines in its config.toml (config version 2) to read %s:", c.Path, c.Dir) + "\n" +
			Lines(2, c.Dir) + l.T("containerd 2.x (config version 3) reads /etc/containerd/certs.d by default; for another folder:") + "\n" +
			Lines(3, c.Dir) + l.T("Then restart containerd: sudo systemctl restart containerd.")
	}
	var b strings.Builder
	if c.Reads {
		b.WriteString(l.F("%s makes containerd read %s: nothing to add. containerd reads each hosts.toml at the next pull, with no restart.", c.Path, c.Dir))
	} else {
		if c.ConfigPath != "" {
			b.WriteString(l.F("%s sets config_path = %q, not %s.", c.Path, c.ConfigPath, c.Dir) + " ")
		} else {
			b.WriteString(l.F("%s does not set config_path: containerd does not read %s.", c.Path, c.Dir) + " ")
		}
		if c.TableLine > 0 {
			b.WriteString(l.F("Set it in the table at line %d (config version %d):", c.TableLine, c.Version))
			b.WriteString("\n  config_path = " + fmt.Sprintf("%q", c.Dir) + "\n")
		} else {
			b.WriteString(l.F("Add these lines (config version %d):", c.Version) + "\n" + Lines(c.Version, c.Dir))
		}
		b.WriteString(l.T("Then restart containerd: sudo systemctl restart containerd."))
	}
	if c.Mirrors {
		b.WriteString("\n" + l.F("Remove registry.mirrors and registry.configs from [%s]: containerd refuses them together with config_path.", registryTables[c.Version]))
	}
	return b.String()
}
