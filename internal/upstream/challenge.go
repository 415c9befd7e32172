package upstream

import (
	"strings"
)

// Challenge is a parsed WWW-Authenticate header, as defined by RFC 7235 and
// the Docker token authentication spec ("Bearer realm=...,service=...,scope=...").
type Challenge struct {
	Scheme string            // "bearer" or "basic", lowercased
	Params map[string]string // by lowercased name
}

// ParseChallenge parses the first challenge of a WWW-Authenticate value.
// Quoted values may contain commas and backslash escapes.
func ParseChallenge(header string) (Challenge, bool) {
	header = strings.TrimSpace(header)
	scheme, rest, _ := strings.Cut(header, " ")
	if scheme == "" {
		return Challenge{}, false
	}
	c := Challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
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
