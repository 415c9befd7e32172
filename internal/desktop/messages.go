package desktop

import "github.com/hubmirror/hubmirror/internal/i18n"

// msg returns the message in the user's language, read from the locale
// environment: the English text is the key of the one catalog,
// internal/i18n.
func msg(english string) string {
	return i18n.FromEnv().T(english)
}
