package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/upstream"
)

// Error codes from the OCI Distribution Specification, section "Error
// Codes", and the few the mirror sends besides (see codeStatus).
const (
	codeBlobUnknown     = "BLOB_UNKNOWN"
	codeManifestUnknown = "MANIFEST_UNKNOWN"
	codeNameUnknown     = "NAME_UNKNOWN"
	codeNameInvalid     = "NAME_INVALID"
	codeDigestInvalid   = "DIGEST_INVALID"
	codeManifestInvalid = "MANIFEST_INVALID"
	codeRangeInvalid    = "RANGE_INVALID"
	codeUnsupported     = "UNSUPPORTED"
	codeUnauthorized    = "UNAUTHORIZED"
	codeDenied          = "DENIED"
	codeTooManyRequests = "TOOMANYREQUESTS"
	codeUnavailable     = "UNAVAILABLE"
	codeUnknown         = "UNKNOWN"
	codeSizeInvalid     = "SIZE_INVALID"
	codeTagInvalid      = "TAG_INVALID"
)

// codeStatus binds each error code to the one HTTP status it goes out
// with, so that no call site picks a status of its own: the statuses of
// the distribution spec's error codes as registries send them (its code
// list names no statuses itself; UNSUPPORTED is 405 as for writes),
// TAG_INVALID and RANGE_INVALID from the Docker Registry HTTP API V2 that
// the spec grew out of, and UNAVAILABLE and UNKNOWN for an upstream that
// cannot be reached and for the mirror's own failures.
var codeStatus = map[string]int{
	codeBlobUnknown:         http.StatusNotFound,
	"BLOB_UPLOAD_INVALID":   http.StatusBadRequest,
	"BLOB_UPLOAD_UNKNOWN":   http.StatusNotFound,
	codeDigestInvalid:       http.StatusBadRequest,
	"MANIFEST_BLOB_UNKNOWN": http.StatusNotFound,
	codeManifestInvalid:     http.StatusBadRequest,
	codeManifestUnknown:     http.StatusNotFound,
	codeNameInvalid:         http.StatusBadRequest,
	codeNameUnknown:         http.StatusNotFound,
	codeSizeInvalid:         http.StatusBadRequest,
	codeUnauthorized:        http.StatusUnauthorized,
	codeDenied:              http.StatusForbidden,
	codeUnsupported:         http.StatusMethodNotAllowed,
	codeTooManyRequests:     http.StatusTooManyRequests,
	codeTagInvalid:          http.StatusBadRequest,
	codeRangeInvalid:        http.StatusRequestedRangeNotSatisfiable,
	codeUnavailable:         http.StatusServiceUnavailable,
	codeUnknown:             http.StatusInternalServerError,
}

// statusOf is the status bound to code; 500 for a code outside the table,
// which only a programming error can make.
func statusOf(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// specCodes are the error codes the OCI Distribution Specification defines.
// An upstream's own code is passed on to the client only when it is one.
var specCodes = map[string]bool{
	codeBlobUnknown: true, "BLOB_UPLOAD_INVALID": true, "BLOB_UPLOAD_UNKNOWN": true,
	codeDigestInvalid: true, "MANIFEST_BLOB_UNKNOWN": true, codeManifestInvalid: true,
	codeManifestUnknown: true, codeNameInvalid: true, codeNameUnknown: true,
	codeSizeInvalid: true, codeUnauthorized: true, codeDenied: true,
	codeUnsupported: true, codeTooManyRequests: true,
}

// regError is an error that reaches the client as OCI error JSON. Its
// status is the one bound to its code (codeStatus); make one with
// newError.
type regError struct {
	Code    string
	Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Allow, when set, is sent as the Allow header (405 answers).
	Allow string
	// Status, when not zero, replaces the code's status. Only answers
	// that are not the mirror's own set it: an upstream refusal passed on
	// with upstream's status (refusalError), and 499 for a client
	// that went away, which it never reads (only the log line does).
	Status int
}

// newError is the error with code and message, sent with code's status.
func newError(code, message string) *regError {
	return &regError{Code: code, Message: message}
}

func (e *regError) Error() string { return e.Code + ": " + e.Message }

// status is the HTTP status the error goes out with.
func (e *regError) status() int {
	if e.Status != 0 {
		return e.Status
	}
	return statusOf(e.Code)
}

// write sends the error as {"errors":[{"code":..., "message":...}]}.
func (e *regError) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	if e.Allow != "" {
		h.Set("Allow", e.Allow)
	}
	body, _ := json.Marshal(struct {
		Errors []ociError `json:"errors"`
	}{[]ociError{{Code: e.Code, Message: e.Message}}})
	w.WriteHeader(e.status())
	_, _ = w.Write(body)
}

type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Sentinel errors that callers branch on. Those every layer shares are
// package oci's, under the names callers of this package know. Their
// texts are catalog keys: they end up in messages people read (hubmirror
// login's "login failed, nothing was stored: upstream denied access"),
// translated where shown.
var (
	// ErrNotFound means upstream does not have the requested content.
	ErrNotFound = oci.ErrNotFound
	// ErrUnreachable means upstream could not be reached or answered 5xx.
	ErrUnreachable = oci.ErrUnreachable
	// ErrTooManyRequests means upstream answered 429.
	ErrTooManyRequests = oci.ErrTooManyRequests
	// ErrDenied means upstream refused access even after authenticating.
	ErrDenied = oci.ErrDenied
	// ErrDigestMismatch means content did not hash to its digest.
	ErrDigestMismatch = oci.ErrDigestMismatch
	// ErrRedirectRefused means upstream redirected to a loopback, link-local
	// or private address although its own endpoint is not one. It comes
	// wrapped together with ErrUnreachable.
	ErrRedirectRefused = upstream.ErrRedirectRefused
	// ErrAddrInUse means the listen address is taken by another program.
	ErrAddrInUse = errors.New(i18n.Key("address already in use"))
)

// addrInUseError is the error of a listen address another program holds:
// what to do about it, in English, wrapping ErrAddrInUse. The command line
// prints it in the user's language through the catalog (i18n.Lang.Text),
// whose key is this format; Start should make its error with it.
func addrInUseError(listen string) error {
	return fmt.Errorf(i18n.Key("%w: %s is taken by another program; choose another port with --listen "+
		"(for example --listen 127.0.0.1:5001) or \"listen\" in the settings "+
		"(on macOS, AirPlay Receiver holds port 5000: turn it off in System Settings)"), ErrAddrInUse, listen)
}

// refusalError turns upstream's refusal of a request (a 4xx the mirror
// has no meaning of its own for, like 400: se.Refused) into the same 4xx
// for the client. It keeps upstream's code when the spec defines it;
// otherwise the code follows the status. The message says what was asked
// and what upstream said.
func refusalError(se *upstream.StatusError) *regError {
	code := se.Code
	if !specCodes[code] {
		switch se.Status {
		case http.StatusMethodNotAllowed:
			code = codeUnsupported
		case http.StatusRequestEntityTooLarge:
			code = codeSizeInvalid
		case http.StatusRequestedRangeNotSatisfiable:
			code = codeRangeInvalid
		default:
			code = codeUnknown
		}
	}
	return &regError{Status: se.Status, Code: code, Message: se.Error()}
}
