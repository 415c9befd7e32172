package mirror

import (
	"strings"
)

// challenge is a parsed WWW-Authenticate header, as defined by RFC 7235 and
// the Docker token authentication spec ("Bearer realm=...,service=...,scope=...").
type challenge struct {
	Scheme string // "bearer" or "basic", lowercased
	Params map[string]string
}

// parseChallenge parses the first challenge of a WWW-Authenticate value.
// Quoted values may contain commas and backslash escapes.
func parseChallenge(header string) (challenge, bool) {
	header = strings.TrimSpace(header)
	scheme, rest, _ := strings.Cut(header, " ")
	if scheme == "" {
		return challenge{}, false
	}
	c := challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
	for rest = strings.TrimSpace(rest); rest != ""; {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		key = strings.ToLower(strings.TrimSpace(key))
		var val string
		val, rest = readParamValue(after)
		c.Params[key] = val
		rest = strings.TrimLeft(rest, " ,")
	}
	return c, true
}

// ParseChallenge is parseChallenge for the command line, which reads the
// running mirror's own challenge: the scheme and the parameters, both
// lowercased, of the first challenge in a WWW-Authenticate value.
func ParseChallenge(header string) (scheme string, params map[string]string, ok bool) {
	c, ok := parseChallenge(header)
	return c.Scheme, c.Params, ok
}

// readParamValue reads a token or quoted-string and returns it with the rest.
func readParamValue(s string) (value, rest string) {
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s, ',')
		if end < 0 {
			return strings.TrimSpace(s), ""
		}
		return strings.TrimSpace(s[:end]), s[end+1:]
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}
