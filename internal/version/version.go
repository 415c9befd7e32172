// Package version is hubmirror's one source of its own version and build:
// the version a release build sets with
//
//	go build -ldflags "-X github.com/hubmirror/hubmirror/internal/version.version=1.2.3"
//
// else the main module's version that go build records (a pseudo-version
// such as v0.0.0-20260101120000-abcdef123456+dirty in a git checkout), and
// the git revision the binary was built from.
package version

import "runtime/debug"

// version is set by -ldflags -X for a release; "" otherwise. It must stay
// a plain string variable, not a constant, for the linker to set it.
var version string

// unknown is the version of a binary that carries none: built with
// neither -ldflags -X nor a module version (go test, go run, -buildvcs=false).
const unknown = "0.1.0-dev"

// String is the version of this binary.
func String() string {
	info, _ := debug.ReadBuildInfo()
	return choose(version, info)
}

// choose is the version set with -ldflags when there is one, else the
// main module's as go build recorded it in info, else unknown.
func choose(ldflags string, info *debug.BuildInfo) string {
	switch {
	case ldflags != "":
		return ldflags
	case info != nil && info.Main.Version != "" && info.Main.Version != "(devel)":
		return info.Main.Version
	}
	return unknown
}

// Commit is the git revision this binary was built from, "" when it was
// not built from a checkout (or with -buildvcs=false), and whether the
// checkout had local changes.
func Commit() (revision string, modified bool) {
	info, _ := debug.ReadBuildInfo()
	return commitOf(info)
}

// commitOf reads the vcs.revision and vcs.modified settings that go build
// records when it builds from a git checkout.
func commitOf(info *debug.BuildInfo) (revision string, modified bool) {
	if info == nil {
		return "", false
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return revision, modified
}
