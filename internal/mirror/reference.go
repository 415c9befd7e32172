package mirror

import (
	"strings"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// validName and validTag are the distribution spec's grammar of
// repository names and tags (package oci).
var (
	validName = oci.ValidName
	validTag  = oci.ValidTag
)

// repoName maps a client's repository name to the upstream one: on Docker Hub,
// a name with no namespace is an official image under "library/".
func repoName(registry, name string) string {
	if registry == dockerHub && !strings.Contains(name, "/") {
		return "library/" + name
	}
	return name
}
