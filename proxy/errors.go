package proxy

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Error codes from the OCI Distribution Specification, section "Error Codes".
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
)

// regError is an error that reaches the client as OCI error JSON.
type regError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Allow, when set, is sent as the Allow header (405 answers).
	Allow string
}

func (e *regError) Error() string { return e.Code + ": " + e.Message }

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
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorf(status int, code, message string) *regError {
	return &regError{Status: status, Code: code, Message: message}
}

// Sentinel errors that callers branch on.
var (
	// ErrNotFound means upstream does not have the requested content.
	ErrNotFound = errors.New("not found upstream")
	// ErrUnreachable means upstream could not be reached or answered 5xx.
	ErrUnreachable = errors.New("upstream unreachable")
	// ErrTooManyRequests means upstream answered 429.
	ErrTooManyRequests = errors.New("upstream rate limit reached")
	// ErrDenied means upstream refused access even after authenticating.
	ErrDenied = errors.New("upstream denied access")
	// ErrDigestMismatch means content did not hash to its digest.
	ErrDigestMismatch = errors.New("content does not match its digest")
	// ErrAddrInUse means the listen address is taken by another program.
	ErrAddrInUse = errors.New("address already in use")
)
