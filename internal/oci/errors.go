package oci

import (
	"errors"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// Sentinel errors that every layer branches on: the upstream client makes
// them, the store stops or resumes a download by them, and the registry
// API turns each into its error code. Their texts are catalog keys: they
// end up in messages people read (hubmirror login's "login failed,
// nothing was stored: upstream denied access"), translated where shown.
var (
	// ErrNotFound means upstream does not have the requested content.
	ErrNotFound = errors.New(i18n.Key("not found upstream"))
	// ErrUnreachable means upstream could not be reached or answered 5xx.
	ErrUnreachable = errors.New(i18n.Key("upstream unreachable"))
	// ErrTooManyRequests means upstream answered 429.
	ErrTooManyRequests = errors.New(i18n.Key("upstream rate limit reached"))
	// ErrDenied means upstream refused access even after authenticating.
	ErrDenied = errors.New(i18n.Key("upstream denied access"))
	// ErrDigestMismatch means content did not hash to its digest.
	ErrDigestMismatch = errors.New(i18n.Key("content does not match its digest"))
)
