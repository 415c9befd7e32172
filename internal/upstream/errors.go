package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/oci"
)

// ErrRedirectRefused means upstream redirected to a loopback, link-local
// or private address although its own endpoint is not one. It comes
// wrapped together with oci.ErrUnreachable.
var ErrRedirectRefused = errors.New(i18n.Key("redirect to an internal address refused"))

// maxErrorBody bounds how much of an upstream's error body is read.
const maxErrorBody = 64 << 10

// StatusError is an answer of upstream that is not a success. It wraps
// what the answer means: oci.ErrNotFound (404), oci.ErrDenied (401, 403),
// oci.ErrTooManyRequests (429) or oci.ErrUnreachable (5xx, a redirect
// the client did not follow, 407, 408), or nothing: a refusal (Refused).
type StatusError struct {
	// Status is upstream's HTTP status.
	Status int
	// RetryAfter is upstream's Retry-After header (of a 429).
	RetryAfter string
	// Code is the first OCI error code of a refusal's body, as upstream
	// sent it; "" when it sent none.
	Code string
	// refused is set for a 4xx the mirror has no meaning of its own for.
	refused bool
	err     error // the message, wrapping the sentinel
}

func (e *StatusError) Error() string { return e.err.Error() }
func (e *StatusError) Unwrap() error { return e.err }

// Refused reports whether upstream refused this request (400, 405, 416, …:
// a 4xx that is not 401, 403, 404 or 429) rather than failing: the client
// should get the same status, and it is no reason to serve from the cache.
func (e *StatusError) Refused() bool { return e.refused }

// StatusOf returns the HTTP status of the upstream answer err reports, or
// 0 when err is not about an answer (no connection, no token).
func StatusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// statusError maps an upstream answer that is not a success to a
// *StatusError. The caller still drains the body; at most maxErrorBody of
// it is read here, for a refusal's code and message.
func (c *Client) statusError(resp *http.Response, what string) error {
	e := &StatusError{Status: resp.StatusCode}
	switch s := resp.StatusCode; {
	case s == http.StatusNotFound:
		e.err = fmt.Errorf("%s: %w", what, oci.ErrNotFound)
	case s == http.StatusTooManyRequests:
		e.RetryAfter = resp.Header.Get("Retry-After")
		e.err = fmt.Errorf("%s: %w", what, oci.ErrTooManyRequests)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.err = fmt.Errorf("%s: %w (HTTP %d)", what, oci.ErrDenied, s)
	case s >= 500, s < 400,
		// A proxy between the mirror and upstream wants credentials, or
		// upstream gave up waiting: the client can do nothing about either.
		s == http.StatusProxyAuthRequired, s == http.StatusRequestTimeout:
		e.err = fmt.Errorf("%s: %w: %s answered %d", what, oci.ErrUnreachable, c.Describe(), s)
	default:
		code, msg := errorBody(resp.Body)
		message := fmt.Sprintf("%s: %s answered %d", what, c.Describe(), s)
		if msg != "" {
			message += ": " + msg
		}
		e.refused, e.Code, e.err = true, code, errors.New(message)
	}
	return e
}

// errorBody reads the first error of an OCI error body
// ({"errors":[{"code":…,"message":…}]}): its code, and its message cut to
// one short line. Both are "" for a body that is none.
func errorBody(body io.Reader) (code, message string) {
	var v struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	data, err := io.ReadAll(io.LimitReader(body, maxErrorBody))
	if err != nil || json.Unmarshal(data, &v) != nil || len(v.Errors) == 0 {
		return "", ""
	}
	return v.Errors[0].Code, oneLine(v.Errors[0].Message, 200)
}

// oneLine returns s without control characters, cut to at most n runes.
func oneLine(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n--
	}
	return strings.TrimSpace(b.String())
}
