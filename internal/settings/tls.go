package settings

import (
	"bytes"
	"encoding/json"
	"path/filepath"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
)

// The modes of the "tls" setting.
const (
	TLSOff   = "off"   // plain HTTP (the default)
	TLSAuto  = "auto"  // a local CA next to the settings file signs the mirror's certificate
	TLSFiles = "files" // the user's own certificate and key: {"cert": PATH, "key": PATH}
)

// tlsProblem says what a "tls" value may be.
var tlsProblem = i18n.Key(`is not a tls setting: use "off", "auto", or {"cert": "/path/to/server.crt", "key": "/path/to/server.key"}`)

// TLS is the "tls" setting. In the file it is "off" (the default), "auto",
// or {"cert": PATH, "key": PATH}; the zero value is "off".
type TLS struct {
	Mode string // TLSOff (or ""), TLSAuto or TLSFiles
	Cert string // with TLSFiles: the PEM certificate (chain)
	Key  string // with TLSFiles: its PEM key
}

// On reports whether the mirror serves HTTPS.
func (t TLS) On() bool { return t.Mode == TLSAuto || t.Mode == TLSFiles }

// Same reports whether t and u serve alike: "" and "off" are the same, and
// the file names matter only with TLSFiles.
func (t TLS) Same(u TLS) bool {
	if !t.On() || !u.On() {
		return t.On() == u.On()
	}
	return t == u
}

type tlsFiles struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// MarshalJSON writes "off", "auto" or {"cert": …, "key": …}.
func (t TLS) MarshalJSON() ([]byte, error) {
	switch t.Mode {
	case TLSFiles:
		return json.Marshal(tlsFiles{Cert: t.Cert, Key: t.Key})
	case TLSAuto:
		return json.Marshal(TLSAuto)
	}
	return json.Marshal(TLSOff)
}

// UnmarshalJSON reads the three forms; anything else is a *FieldError
// that says what to write instead.
func (t *TLS) UnmarshalJSON(raw []byte) error {
	bad := &FieldError{Field: "tls", Value: string(raw), Problem: tlsProblem}
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.Equal(raw, []byte("null")):
		*t = TLS{}
		return nil
	case len(raw) > 0 && raw[0] == '"':
		var mode string
		if err := json.Unmarshal(raw, &mode); err != nil {
			return bad
		}
		bad.Value = mode
		if mode != TLSOff && mode != TLSAuto {
			return bad
		}
		*t = TLS{Mode: mode}
		return nil
	case len(raw) > 0 && raw[0] == '{':
		var f tlsFiles
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return bad
		}
		*t = TLS{Mode: TLSFiles, Cert: f.Cert, Key: f.Key}
		return nil
	}
	return bad
}

// check validates t as the "tls" setting.
func (t TLS) check() error {
	switch t.Mode {
	case "", TLSOff, TLSAuto:
		return nil
	case TLSFiles:
		if !filepath.IsAbs(t.Cert) || !filepath.IsAbs(t.Key) {
			v, _ := t.MarshalJSON()
			return &FieldError{Field: "tls", Value: string(v),
				Problem: i18n.Key(`needs "cert" and "key", the absolute paths of a PEM certificate and its key (or use "auto")`)}
		}
		return nil
	}
	return &FieldError{Field: "tls", Value: t.Mode, Problem: tlsProblem}
}

// ProxyTLS is the mirror's TLS configuration for these settings, read from
// the settings file at path: with "auto", the local CA lives next to it.
func (s Settings) ProxyTLS(path string) mirror.TLS {
	switch s.TLS.Mode {
	case TLSAuto:
		return mirror.TLS{Mode: mirror.TLSAuto, Dir: filepath.Dir(path)}
	case TLSFiles:
		return mirror.TLS{Mode: mirror.TLSFiles, CertFile: s.TLS.Cert, KeyFile: s.TLS.Key}
	}
	return mirror.TLS{}
}
