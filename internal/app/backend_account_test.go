package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// fakeHub is a registry that takes one account with Basic auth, standing
// in for Docker Hub.
func fakeHub(t *testing.T, user, password string) *Backend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if ok && u == user && p == password {
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="fake hub"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return &Backend{cur: settings.Settings{Upstreams: map[string]string{HubRegistry: srv.URL}}}
}

// TestAccount with an empty password checks the account stored in the
// keyring; with a password, the one given.
func TestTestAccountStored(t *testing.T) {
	keyring.MockInit()
	b := fakeHub(t, "alice", "s3cret")

	if err := b.TestAccount("alice", ""); err == nil || !strings.Contains(err.Error(), "no Docker Hub account is stored") {
		t.Errorf("nothing stored: %v", err)
	}
	if err := secrets.Set(HubRegistry, secrets.Credential{Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, password, err string // err: "" for none, else part of the message
	}{
		{"alice", "", ""},
		{"", "", ""},
		{"bob1", "", "the stored Docker Hub account is alice, not bob1"},
		{"alice", "wrong", "refused by Docker Hub"},
		{"alice", "s3cret", ""},
	} {
		err := b.TestAccount(tc.user, tc.password)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("TestAccount(%q, %q) = %v, want %q", tc.user, tc.password, err, tc.err)
		}
	}
	// A stored password Docker Hub no longer takes is reported.
	if err := secrets.Set(HubRegistry, secrets.Credential{Username: "alice", Password: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := b.TestAccount("alice", ""); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("stale stored password: %v", err)
	}
	// Save never stores an empty password.
	if err := b.SaveAccount("alice", ""); err == nil {
		t.Error("SaveAccount with no password succeeded")
	}
}
