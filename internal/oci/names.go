package oci

import "regexp"

// Grammar from the OCI Distribution Specification, section "Pulling
// manifests": a repository name is path components of lowercase
// alphanumerics joined by separators, and a tag is at most 128 characters
// of [a-zA-Z0-9_.-] that does not start with '.' or '-'. Neither can hold
// "..", so a valid name or tag can never name a path outside the cache
// directory.
var (
	nameComponent = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`
	nameRE        = regexp.MustCompile(`^` + nameComponent + `(?:/` + nameComponent + `)*$`)
	tagRE         = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// MaxNameLength bounds a repository name; the spec advises 255 with the
// host.
const MaxNameLength = 255

// ValidName reports whether name is a valid repository name.
func ValidName(name string) bool {
	return len(name) <= MaxNameLength && nameRE.MatchString(name)
}

// ValidTag reports whether s is a valid tag.
func ValidTag(s string) bool { return tagRE.MatchString(s) }
