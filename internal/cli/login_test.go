package cli

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// fakeS3 is an in-process stand-in for an S3 server that answers the one
// listing objstore.Open makes: an empty bucket, or, when refuse is set,
// SignatureDoesNotMatch, as a server does for a wrong secret. It checks no
// signature: the end-to-end test (e2e/store_login_test.go) does that
// against a real server.
type fakeS3 struct {
	*httptest.Server
	refuse bool

	mu   sync.Mutex
	auth []string // the Authorization headers it was sent
}

func newFakeS3(t *testing.T, refuse bool) *fakeS3 {
	f := &fakeS3{refuse: refuse}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		if f.refuse {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>`))
			return
		}
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>team-bucket</Name><Prefix>team/</Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`))
	}))
	t.Cleanup(f.Close)
	return f
}

// storeURL is a store URL of team-bucket/team on f.
func (f *fakeS3) storeURL() string {
	return "s3://team-bucket/team?endpoint=" + f.URL + "&region=us-east-1&path_style=true"
}

// name is the keyring name of f's team-bucket.
func (f *fakeS3) name() string {
	return "s3://" + strings.TrimPrefix(f.URL, "http://") + "/team-bucket"
}

// sawKey reports whether a request f got was signed with the access key id.
func (f *fakeS3) sawKey(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.auth {
		if strings.Contains(a, "Credential="+id+"/") {
			return true
		}
	}
	return false
}

// TestStoreKeysFromStdin: without a terminal, the access key ID and the
// secret come one per line (CRLF or not, the last line with or without
// its newline), or the secret alone after -u; a missing one is said.
func TestStoreKeysFromStdin(t *testing.T) {
	for _, tc := range []struct {
		stdin, user, id, secret, err string
	}{
		{stdin: "AKID\nsecret-1\n", id: "AKID", secret: "secret-1"},
		{stdin: "AKID\r\nsecret-1\r\n", id: "AKID", secret: "secret-1"},
		{stdin: "  AKID  \nsecret-1", id: "AKID", secret: "secret-1"},
		{stdin: "secret-2\n", user: "AKID", id: "AKID", secret: "secret-2"},
		{stdin: "AKID\n", err: "no secret access key"},
		{stdin: "", err: "no access key ID"},
		{stdin: "\nsecret-1\n", err: "no access key ID"},
		{stdin: "", user: "AKID", err: "no secret access key"},
	} {
		e := &env{stdin: strings.NewReader(tc.stdin), stdout: &strings.Builder{}, stderr: &strings.Builder{}}
		id, secret, err := storeKeys(e, tc.user, tc.user != "")
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q, -u %q: %v; want an error with %q", tc.stdin, tc.user, err, tc.err)
		case tc.err == "" && (err != nil || id != tc.id || secret != tc.secret):
			t.Errorf("%q, -u %q: %q, %v; want %q and its secret", tc.stdin, tc.user, id, err, tc.id)
		}
		if err != nil && strings.Contains(err.Error(), "secret-") {
			t.Errorf("%q: the error shows the secret: %v", tc.stdin, err)
		}
	}
}

// TestLoginStore: login s3://… checks the keys with the store and keeps
// them under the store's endpoint host and bucket; logout removes them. A
// refused secret and an unreachable store store nothing and say so, the
// secret in no message; a mistake in the URL is said first.
func TestLoginStore(t *testing.T) {
	config := cliEnv(t)
	ok := newFakeS3(t, false)
	out, _, err := call(t, "AKIDGOOD\nsecret-good-1\n", "login", ok.storeURL(), "--config", config)
	if err != nil || !strings.Contains(out, "Login succeeded") || !strings.Contains(out, ok.name()) || strings.Contains(out, "secret-good-1") {
		t.Fatalf("login: %v, %q", err, out)
	}
	if !ok.sawKey("AKIDGOOD") {
		t.Errorf("the store was never asked with the access key AKIDGOOD: login did not check it")
	}
	if c, err := secrets.Get(ok.name()); err != nil || c.Username != "AKIDGOOD" || c.Password != "secret-good-1" {
		t.Errorf("the keyring's entry %s: %q, %v", ok.name(), c.Username, err)
	}
	if data, err := os.ReadFile(config); err == nil && strings.Contains(string(data), "secret-good-1") {
		t.Errorf("the settings file holds the secret")
	}
	out, _, err = call(t, "", "logout", ok.storeURL(), "--config", config)
	if err != nil || !strings.Contains(out, "Removed the credentials for "+ok.name()) {
		t.Errorf("logout: %v, %q", err, out)
	}
	if _, err := secrets.Get(ok.name()); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("after logout: %v", err)
	}

	refusing := newFakeS3(t, true)
	_, _, err = call(t, "secret-wrong-2\n", "login", refusing.storeURL(), "-u", "AKIDBAD", "--password-stdin", "--config", config)
	if err == nil || !strings.Contains(err.Error(), "nothing was stored") || !strings.Contains(err.Error(), "AKIDBAD") || strings.Contains(err.Error(), "secret-wrong-2") {
		t.Errorf("login with a refused secret: %v", err)
	}
	if _, err := secrets.Get(refusing.name()); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("a refused login stored something: %v", err)
	}

	gone := newFakeS3(t, false)
	gone.Close()
	_, _, err = call(t, "AKID\nsecret-3\n", "login", gone.storeURL(), "--config", config)
	if err == nil || !strings.Contains(err.Error(), "nothing was stored") || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("login to a store that is down: %v", err)
	}
	if _, err := secrets.Get(gone.name()); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("a login to a store that is down stored something: %v", err)
	}

	_, _, err = call(t, "AKID\nsecret-4\n", "login", "s3://Team_Bucket?endpoint="+ok.URL, "--config", config)
	if err == nil || !strings.Contains(err.Error(), "is not a bucket name") {
		t.Errorf("login to a store URL with a bad bucket: %v", err)
	}
}

// TestLoginStoreFromSettings: `login s3` is the settings' store; without
// one it says to give the URL.
func TestLoginStoreFromSettings(t *testing.T) {
	config := cliEnv(t)
	_, _, err := call(t, "AKID\nsecret-5\n", "login", "s3", "--config", config)
	if err == nil || !strings.Contains(err.Error(), "no store is set") {
		t.Errorf("login s3 with no store set: %v", err)
	}
	ok := newFakeS3(t, false)
	if err := os.WriteFile(config, []byte(`{"store": "`+ok.storeURL()+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := call(t, "AKIDSET\nsecret-6\n", "login", "s3", "--config", config)
	if err != nil || !strings.Contains(out, ok.name()) {
		t.Fatalf("login s3 with the settings' store: %v, %q", err, out)
	}
	if c, err := secrets.Get(ok.name()); err != nil || c.Username != "AKIDSET" {
		t.Errorf("the keyring's entry: %q, %v", c.Username, err)
	}
	out, _, err = call(t, "", "logout", "s3", "--config", config)
	if err != nil || !strings.Contains(out, "Removed") {
		t.Errorf("logout s3: %v, %q", err, out)
	}
}
