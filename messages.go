package main

import (
	"github.com/hubmirror/hubmirror/internal/i18n"
)

// msg returns the command line's message in the user's language, read from
// the locale environment (LANGUAGE, LC_ALL, LC_MESSAGES, LANG): the English
// text is the key of the one catalog, internal/i18n, that the windows and
// the landing page use too.
func msg(english string) string {
	return i18n.FromEnv().T(english)
}

// localized is an error as the command line prints it, in the user's
// language, with the original behind it for errors.Is and errors.As.
type localized struct {
	err  error
	text string
}

func (e *localized) Error() string { return e.text }
func (e *localized) Unwrap() error { return e.err }

// inUserLanguage is err as the user reads it. Errors are made in English
// (their texts marked with i18n.Key, or made by the settings and the
// mirror), for logs and tests; a command returns them through this so that
// what it prints is in the user's language: i18n's Text recognises the
// catalog's messages in the text, the context each wrapping added
// included. nil stays nil, and English errors stay themselves.
func inUserLanguage(err error) error {
	l := i18n.FromEnv()
	if err == nil || l == i18n.English {
		return err
	}
	return &localized{err: err, text: l.Text(err.Error())}
}
