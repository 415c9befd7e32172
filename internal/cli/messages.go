package cli

import (
	"github.com/hubmirror/hubmirror/internal/i18n"
)

// T is the command line's message english in e's language (from the
// locale environment: LANGUAGE, LC_ALL, LC_MESSAGES, LANG): the English
// text is the key of the one catalog, internal/i18n, that the windows and
// the landing page use too.
func (e *env) T(english string) string { return e.lang.T(english) }

// F is fmt.Sprintf of format in e's language, with args.
func (e *env) F(format string, args ...any) string { return e.lang.F(format, args...) }

// localized is an error as the command line prints it, in the user's
// language, with the original behind it for errors.Is and errors.As.
type localized struct {
	err  error
	text string
}

func (e *localized) Error() string { return e.text }
func (e *localized) Unwrap() error { return e.err }

// inUserLanguage is err as a user who reads l reads it. Errors are made in
// English (their texts marked with i18n.Key, or made by the settings and
// the mirror), for logs and tests; main prints a command's error through
// this: i18n's Text recognises the catalog's messages in the text, the
// context each wrapping added included. nil stays nil, and English errors
// stay themselves.
func inUserLanguage(l i18n.Lang, err error) error {
	if err == nil || l == i18n.English {
		return err
	}
	return &localized{err: err, text: l.Text(err.Error())}
}
