package mirror

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"regexp"
	"strings"
)

// Grammar from the OCI Distribution Specification, section "Pulling manifests":
// a repository name is path components of lowercase alphanumerics joined by
// separators, and a tag is at most 128 characters of [a-zA-Z0-9_.-] that does
// not start with '.' or '-'. Neither can hold "..", so a valid name or tag can
// never name a path outside the cache directory.
var (
	nameComponent = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`
	nameRE        = regexp.MustCompile(`^` + nameComponent + `(?:/` + nameComponent + `)*$`)
	tagRE         = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLength bounds a repository name; the spec advises 255 with the host.
const maxNameLength = 255

// validName reports whether name is a valid repository name.
func validName(name string) bool {
	return len(name) <= maxNameLength && nameRE.MatchString(name)
}

// validTag reports whether s is a valid tag.
func validTag(s string) bool { return tagRE.MatchString(s) }

// digest is a validated content digest such as "sha256:<64 hex>".
type digest string

// parseDigest validates s. Only the registered algorithms sha256 and sha512
// are accepted, with lowercase hex of the right length.
func parseDigest(s string) (digest, error) {
	algo, hexPart, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("digest %q has no algorithm", s)
	}
	var want int
	switch algo {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	default:
		return "", fmt.Errorf("digest %q: unsupported algorithm %q (use sha256 or sha512)", s, algo)
	}
	if len(hexPart) != want {
		return "", fmt.Errorf("digest %q: want %d hex characters, got %d", s, want, len(hexPart))
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("digest %q: %q is not lowercase hex", s, c)
		}
	}
	return digest(s), nil
}

// algorithm returns "sha256" or "sha512".
func (d digest) algorithm() string { a, _, _ := strings.Cut(string(d), ":"); return a }

// hex returns the part after the colon.
func (d digest) hex() string { _, h, _ := strings.Cut(string(d), ":"); return h }

// newHash returns the hash function the digest was made with.
func (d digest) newHash() hash.Hash {
	if d.algorithm() == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// verify reports whether sum (the hash's output) matches the digest.
func (d digest) matches(sum []byte) bool {
	return fmt.Sprintf("%x", sum) == d.hex()
}

// digestOf returns the sha256 digest of b.
func digestOf(b []byte) digest {
	return digest(fmt.Sprintf("sha256:%x", sha256.Sum256(b)))
}

// repoName maps a client's repository name to the upstream one: on Docker Hub,
// a name with no namespace is an official image under "library/".
func repoName(registry, name string) string {
	if registry == dockerHub && !strings.Contains(name, "/") {
		return "library/" + name
	}
	return name
}
