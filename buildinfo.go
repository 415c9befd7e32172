package main

import "runtime/debug"

// commit is the git revision this binary was built from, "" when it was
// not built from a checkout (or with -buildvcs=false), and whether the
// checkout had local changes.
func commit() (revision string, modified bool) {
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
