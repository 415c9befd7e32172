package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/settings"
	"github.com/hubmirror/hubmirror/internal/settings/secrets"
)

// A registry chained to a team mirror uses the account stored for the
// team mirror's host:port, then the registry's own; a registry at its
// built-in endpoint, or one with no setting, uses its own name alone; the
// upstreams are read at each lookup, so a change of them counts at once.
func TestChainedKeyringCredentials(t *testing.T) {
	keyring.MockInit()
	for key, user := range map[string]string{"team.example:5000": "teamuser", "docker.io": "hubuser", "ghcr.io": "ghuser"} {
		if err := secrets.Set(key, secrets.Credential{Username: user, Password: user + "-pw"}); err != nil {
			t.Fatal(err)
		}
	}
	ups := map[string]string{
		"docker.io": "https://Team.Example:5000",
		"ghcr.io":   mirror.BuiltinUpstreams()["ghcr.io"],
		"quay.io":   "https://other.example",
	}
	creds := ChainedKeyringCredentials(func() map[string]string { return ups })
	for _, tc := range []struct{ registry, user string }{
		{"docker.io", "teamuser"}, // the team mirror's account
		{"ghcr.io", "ghuser"},     // its built-in endpoint: its own
		{"quay.io", ""},           // nothing stored for either key
		{"registry.k8s.io", ""},   // no setting, nothing stored
	} {
		user, password, ok, err := creds(tc.registry)
		if err != nil || ok != (tc.user != "") || user != tc.user || (ok && password != tc.user+"-pw") {
			t.Errorf("%s: %q, %q, %v, %v; want %q", tc.registry, user, password, ok, err, tc.user)
		}
	}
	ups["docker.io"] = "https://hub-cache.example"
	if user, _, ok, err := creds("docker.io"); err != nil || !ok || user != "hubuser" {
		t.Errorf("nothing stored for the team mirror's host: %q, %v, %v; want docker.io's own account", user, ok, err)
	}
	if user, _, _, _ := KeyringCredentials()("docker.io"); user != "hubuser" {
		t.Errorf("KeyringCredentials: %q, want docker.io's own account", user)
	}
}

// TestStoreAccountName: a store's account is kept under its endpoint's
// host and its bucket, whatever its prefix and region; a default port is
// left out, and a store without an endpoint is AWS S3's.
func TestStoreAccountName(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"s3://team-bucket/cache?endpoint=http://127.0.0.1:8333&region=us-east-1&path_style=true", "s3://127.0.0.1:8333/team-bucket"},
		{"s3://team-bucket?endpoint=http://127.0.0.1:8333", "s3://127.0.0.1:8333/team-bucket"},
		{"s3://team-bucket/other/prefix?endpoint=https://MinIO.Example:9000&region=eu-1", "s3://minio.example:9000/team-bucket"},
		{"s3://team-bucket?endpoint=https://minio.example:443", "s3://minio.example/team-bucket"},
		{"s3://team-bucket?endpoint=http://[::1]:80", "s3://[::1]/team-bucket"},
		{"s3://team-bucket?endpoint=http://[::1]:9000", "s3://[::1]:9000/team-bucket"},
		{"s3://aws-bucket/p?region=eu-central-1", "s3://s3.amazonaws.com/aws-bucket"},
	} {
		_, name, err := StoreAccount(tc.url)
		if err != nil || name != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.url, name, err, tc.want)
		}
	}
	if _, _, err := StoreAccount("s3://team-bucket?endpoint=ftp://x"); err == nil {
		t.Error("a store URL with an ftp endpoint has an account name")
	}
}

// aloneEnv is set in the environment of a test binary that runs one test
// by itself (runAlone).
const aloneEnv = "HUBMIRROR_TEST_ALONE"

// runAlone runs t in a test binary of its own, with env added to the
// environment, and reports whether this is that binary, where the test
// goes on; the caller returns when it is not. Other tests of this package
// replace the keyring with go-keyring's mock, for the whole process and
// for good, and godbus keeps its first session bus: a test of the real
// keyring, or of none, needs a process of its own.
func runAlone(t *testing.T, env ...string) bool {
	t.Helper()
	if os.Getenv(aloneEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), aloneEnv+"="+t.Name()), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the test in a process of its own: %v\n%s", err, out)
	}
	return false
}

// realKeyring skips t, or fails it under scripts/test.sh (HUBMIRROR_E2E=1
// or HUBMIRROR_KEYRING=1), when there is no D-Bus session with an
// unlocked Secret Service to test against.
func realKeyring(t *testing.T) {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" && os.Getenv("HUBMIRROR_KEYRING") == "1" {
		return
	}
	msg := "no D-Bus session with an unlocked keyring (HUBMIRROR_KEYRING=1 and DBUS_SESSION_BUS_ADDRESS): run scripts/test.sh, which runs the tests in dbus-run-session with gnome-keyring-daemon --unlock"
	if os.Getenv("HUBMIRROR_E2E") == "1" || os.Getenv("HUBMIRROR_KEYRING") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// chainFixture points the chain's sources at t's own: no environment
// keys, a shared credentials file in a temporary directory with FILEKEY
// in it (whose path it returns), and a store URL and its keyring name on
// a bucket no other run uses, so that a desktop's own keyring, where a
// developer may run the test, is not touched beyond the entry made here.
func chainFixture(t *testing.T) (file, store, name string) {
	t.Helper()
	bucket := fmt.Sprintf("chain-test-%d", time.Now().UnixNano())
	store = "s3://" + bucket + "/team?endpoint=http://127.0.0.1:1&region=us-east-1&path_style=true"
	name = "s3://127.0.0.1:1/" + bucket
	file = filepath.Join(t.TempDir(), "credentials")
	writeFileKeys(t, file)
	for k, v := range map[string]string{"AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""} {
		t.Setenv(k, v)
	}
	return file, store, name
}

// writeFileKeys writes FILEKEY as the default profile of a shared
// credentials file.
func writeFileKeys(t *testing.T, file string) {
	t.Helper()
	if err := os.WriteFile(file, []byte("[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantKeys fails t unless creds yields the access key id with secret.
func wantKeys(t *testing.T, step string, creds objstore.Credentials, id, secret string) {
	t.Helper()
	k, err := creds(context.Background())
	if err != nil || k.AccessKeyID != id || k.SecretAccessKey != secret {
		t.Errorf("%s: %v, %v; want the keys %s", step, k, err, id)
	}
}

// TestStoreCredentialsChain: the mirror's store keys come from the AWS
// environment variables, else the store's account in a real OS keyring,
// else the shared credentials file; broken keys in one source stop the
// chain; with no keys the error says how to give them.
func TestStoreCredentialsChain(t *testing.T) {
	realKeyring(t)
	if !runAlone(t) {
		return
	}
	file, store, name := chainFixture(t)
	t.Cleanup(func() { _ = secrets.Delete(name) })
	bucket := strings.TrimPrefix(name, "s3://127.0.0.1:1/")
	ctx := context.Background()
	// One chain throughout: each call reads every source again.
	chain := StoreCredentials(store)

	if err := secrets.Set(name, secrets.Credential{Username: "KEYRINGKEY", Password: "keyring-secret"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	wantKeys(t, "environment, keyring and file", chain, "ENVKEY", "env-secret")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if k, err := chain(ctx); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("AWS_ACCESS_KEY_ID alone: %v, %v; want an error that says to set AWS_SECRET_ACCESS_KEY, not the keyring's keys", k, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	wantKeys(t, "keyring and file", chain, "KEYRINGKEY", "keyring-secret")
	// Another prefix of the bucket is the same account; another bucket
	// on the same server is not.
	wantKeys(t, "another prefix of the bucket", StoreCredentials("s3://"+bucket+"/elsewhere?endpoint=http://127.0.0.1:1"), "KEYRINGKEY", "keyring-secret")
	wantKeys(t, "another bucket", StoreCredentials("s3://"+bucket+"-other/team?endpoint=http://127.0.0.1:1"), "FILEKEY", "file-secret")

	if err := secrets.Delete(name); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "file alone", chain, "FILEKEY", "file-secret")

	// A damaged entry says so and how to mend it, rather than sign with
	// the file's keys.
	if err := keyring.Set("hubmirror", name, "not json"); err != nil {
		t.Fatal(err)
	}
	if k, err := chain(ctx); err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "hubmirror login '"+store+"'") {
		t.Errorf("a damaged keyring entry: %v, %v; want an error that says to log in to the store again", k, err)
	}
	if err := secrets.Delete(name); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	_, err := chain(ctx)
	if !errors.Is(err, objstore.ErrNoCredentials) || !strings.Contains(err.Error(), "hubmirror login '"+store+"'") ||
		!strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") || !strings.Contains(err.Error(), file) {
		t.Errorf("no keys anywhere: %v; want ErrNoCredentials naming the variables, the login and %s", err, file)
	}
}

// TestStoreCredentialsWithoutKeyring: with no Secret Service (a server
// without a desktop) the keyring is passed over for the shared
// credentials file, and with no keys there either the error says the
// keyring is not available and what else to do.
func TestStoreCredentialsWithoutKeyring(t *testing.T) {
	if !runAlone(t, "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/hubmirror-test-bus") {
		return
	}
	file, store, _ := chainFixture(t)
	chain := StoreCredentials(store)
	wantKeys(t, "no keyring, a file", chain, "FILEKEY", "file-secret")
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	_, err := chain(context.Background())
	if !errors.Is(err, objstore.ErrNoCredentials) || !strings.Contains(err.Error(), "keyring") || !strings.Contains(err.Error(), "not available") ||
		!strings.Contains(err.Error(), file) {
		t.Errorf("no keyring and no keys: %v; want ErrNoCredentials saying the keyring is not available and naming %s", err, file)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	wantKeys(t, "no keyring, the environment", chain, "ENVKEY", "env-secret")
}

// TestEngineConfigStoreCredentials: with a store, the mirror's Config
// carries the chain, which Reconfigure copies; without one it has none.
func TestEngineConfigStoreCredentials(t *testing.T) {
	s := settings.Settings{Listen: "127.0.0.1:5000", CacheDir: t.TempDir()}
	if c := engineConfig("/x/settings.json", s); c.StoreCredentials != nil {
		t.Error("no store, and yet store credentials")
	}
	s.Store = "s3://team-bucket?endpoint=http://127.0.0.1:1"
	c := engineConfig("/x/settings.json", s)
	if c.StoreCredentials == nil {
		t.Fatal("a store and no store credentials: the mirror would read the environment and ~/.aws/credentials alone")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	if k, err := c.StoreCredentials(context.Background()); err != nil || k.AccessKeyID != "ENVKEY" {
		t.Errorf("the config's store credentials: %v, %v; want the environment's", k, err)
	}
}
