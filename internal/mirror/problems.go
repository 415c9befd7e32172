package mirror

import (
	"github.com/hubmirror/hubmirror/internal/i18n"
)

// probe starts the probe that watches registry, now that a problem is
// shown for it, if the mirror runs; Start starts it otherwise.
func (m *Mirror) probe(registry string) {
	m.mu.Lock()
	reg, ctx := m.upstreams[registry], m.runCtx
	m.mu.Unlock()
	if reg != nil && ctx != nil {
		reg.client.EnsureProbe(ctx)
	}
}

// watchKeyring shows a problem in the status once the credential store
// could not be read (the mirror then pulls anonymously), and clears it when
// an account is read from it again. "No account" after a failure does not
// clear it: the app's store reports a failure only once.
func (m *Mirror) watchKeyring(creds Credentials) Credentials {
	if creds == nil {
		return nil
	}
	return func(registry string) (string, string, bool, error) {
		user, password, ok, err := creds(registry)
		switch {
		case err != nil:
			m.stats.setProblem(keyringProblem, keyringUnreadable, true)
		case ok:
			m.stats.setProblem(keyringProblem, "", true)
		}
		return user, password, ok, err
	}
}

// keyringUnreadable is the problem shown while the credential store cannot
// be read. Like every problem it is English in the status (and its log and
// /api/status); the windows and the landing page show it through the
// catalog (tr, i18n.Lang.Text), which names the store as this OS does.
var keyringUnreadable = i18n.Key("The system keyring cannot be read, so registries are pulled from anonymously: unlock the keyring or check that it is running.")

// dropProblemsExcept forgets the problems of registries no longer
// mirrored.
func (s *stats) dropProblemsExcept(ups map[string]*registry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.problems {
		if key[0] != 0 && ups[key] == nil {
			delete(s.problems, key)
		}
	}
}

// hooks sets what stats calls when a problem is noted and when the
// problems change. Set once, before the mirror starts.
func (s *stats) hooks(onProblem func(registry string), onChange func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onProblem, s.onChange = onProblem, onChange
}
