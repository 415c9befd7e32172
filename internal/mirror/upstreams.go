package mirror

import (
	"context"
	"maps"
	"net/http"

	"github.com/hubmirror/hubmirror/internal/upstream"
)

// dockerHub is the registry name of Docker Hub.
const dockerHub = "docker.io"

// DefaultUpstream is Docker Hub's registry endpoint.
const DefaultUpstream = "https://registry-1.docker.io"

// builtinUpstreams are the registries mirrored without any setting.
var builtinUpstreams = map[string]string{
	"docker.io":         DefaultUpstream,
	"ghcr.io":           "https://ghcr.io",
	"quay.io":           "https://quay.io",
	"gcr.io":            "https://gcr.io",
	"registry.k8s.io":   "https://registry.k8s.io",
	"k8s.gcr.io":        "https://k8s.gcr.io",
	"mcr.microsoft.com": "https://mcr.microsoft.com",
	"public.ecr.aws":    "https://public.ecr.aws",
}

// BuiltinUpstreams returns the registries mirrored without any setting, by
// name, with their endpoints: a copy, the caller's to change.
func BuiltinUpstreams() map[string]string { return maps.Clone(builtinUpstreams) }

// Credentials looks up the stored account for a registry. ok is false when
// there is none; err when the store cannot be read (the mirror then pulls
// anonymously and logs the error).
type Credentials = upstream.Credentials

// CheckLogin checks user and password against a registry the way `docker
// login` does (upstream.CheckLogin). It returns nil when the registry
// accepts them and an error wrapping ErrDenied when it does not. rt may be
// nil.
func CheckLogin(ctx context.Context, registry, endpoint, user, password string, rt http.RoundTripper) error {
	return upstream.CheckLogin(ctx, registry, endpoint, user, password, rt)
}

// ParseChallenge reads the first challenge of a WWW-Authenticate value,
// for the command line, which reads the running mirror's own challenge:
// its scheme and parameters, both lowercased (upstream.ParseChallenge).
func ParseChallenge(header string) (scheme string, params map[string]string, ok bool) {
	c, ok := upstream.ParseChallenge(header)
	return c.Scheme, c.Params, ok
}

// registry is one mirrored registry: its upstream client, and the requests
// to it that concurrent clients share (flights.go).
type registry struct {
	name   string
	client *upstream.Client
	// revalidations coalesces concurrent HEADs of one tag.
	revalidations flightGroup
	// manifestFetches coalesces concurrent GETs of one manifest by digest.
	manifestFetches flights[revalKey, fetchedManifest]
}

// buildUpstreams makes the client of every registry, with o (Options
// shared by all, but for the HTTP client, which is made over transport);
// docker.io is always there.
func buildUpstreams(endpoints map[string]string, transport http.RoundTripper, o upstream.Options) (map[string]*registry, error) {
	all := BuiltinUpstreams()
	maps.Copy(all, endpoints)
	o.HTTP = upstream.NewHTTPClient(transport)
	regs := make(map[string]*registry, len(all))
	for name, u := range all {
		c, err := upstream.New(name, u, o)
		if err != nil {
			return nil, err
		}
		regs[name] = &registry{name: name, client: c}
	}
	return regs, nil
}
