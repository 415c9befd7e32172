package upstream

import (
	"context"
	"testing"
)

// A fixed token carries its value and is never renewed: refresh keeps it.
func TestFixedToken(t *testing.T) {
	tok := FixedToken("shared-upstream-token")
	if got := tok.Value(); got != "shared-upstream-token" {
		t.Fatalf("value %q", got)
	}
	if err := tok.refresh(context.Background(), "shared-upstream-token"); err != nil {
		t.Fatal(err)
	}
	if got := tok.current(); got != "shared-upstream-token" {
		t.Errorf("after a refresh: %q, want the same value (no renewal)", got)
	}
}
