//go:build !nogui

package desktop

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hubmirror/hubmirror/internal/settings/secrets"
	"github.com/hubmirror/hubmirror/internal/ui"
)

// A keyring error reaches ui marked ui.ErrKeyringUnavailable, its words
// kept; other errors pass unchanged.
func TestKeyringErrMarksTheKeyringsErrors(t *testing.T) {
	down := fmt.Errorf("%w (no Secret Service)", secrets.ErrUnavailable)
	got := keyringErr(down)
	if !errors.Is(got, ui.ErrKeyringUnavailable) || !errors.Is(got, secrets.ErrUnavailable) || got.Error() != down.Error() {
		t.Errorf("keyringErr(%v) = %v: want both marks and the same words", down, got)
	}
	other := errors.New("Docker Hub refused the password")
	if got := keyringErr(other); got != other {
		t.Errorf("keyringErr(%v) = %v, want it unchanged", other, got)
	}
	if keyringErr(nil) != nil {
		t.Error("keyringErr(nil) is not nil")
	}
}
