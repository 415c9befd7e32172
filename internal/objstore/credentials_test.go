package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secret is the secret key in the tests' credentials: no message may
// hold it.
const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"

// clearAWSEnv unsets the variables the credentials read, for one test.
func clearAWSEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE"} {
		t.Setenv(v, "")
	}
	t.Setenv("HOME", t.TempDir())
}

// writeFile writes a credentials file and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// noSecret fails t if err's message holds the secret.
func noSecret(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("%s: the error shows the secret: %v", what, err)
	}
}

func TestEnvCredentials(t *testing.T) {
	clearAWSEnv(t)
	ctx := context.Background()
	_, err := EnvCredentials()(ctx)
	if !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no variables: %v, want ErrNoCredentials", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	_, err = EnvCredentials()(ctx)
	if err == nil || errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY is not") {
		t.Errorf("only the key ID: %v, want an error naming AWS_SECRET_ACCESS_KEY", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	_, err = EnvCredentials()(ctx)
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID is not") {
		t.Errorf("only the secret: %v, want an error naming AWS_ACCESS_KEY_ID", err)
	}
	noSecret(t, "only the secret", err)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SESSION_TOKEN", "tok")
	k, err := EnvCredentials()(ctx)
	if err != nil || k != (Keys{AccessKeyID: "AKID", SecretAccessKey: secret, SessionToken: "tok"}) {
		t.Errorf("EnvCredentials = %s, %v", k.AccessKeyID, err)
	}
}

func TestFileCredentials(t *testing.T) {
	clearAWSEnv(t)
	ctx := context.Background()
	p := writeFile(t, `# a comment
; another
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key=`+secret+`

[team]
AWS_ACCESS_KEY_ID = AKIDTEAM
aws_secret_access_key = `+secret+`-team
aws_session_token = token=with=equals
region = eu-west-1
`)
	for _, tc := range []struct {
		name          string
		path, profile string
		env           map[string]string
		want          Keys
	}{
		{"default profile", p, "", nil, Keys{AccessKeyID: "AKIDDEFAULT", SecretAccessKey: secret}},
		{"named profile", p, "team", nil, Keys{AccessKeyID: "AKIDTEAM", SecretAccessKey: secret + "-team", SessionToken: "token=with=equals"}},
		{"AWS_PROFILE", p, "", map[string]string{"AWS_PROFILE": "team"}, Keys{AccessKeyID: "AKIDTEAM", SecretAccessKey: secret + "-team", SessionToken: "token=with=equals"}},
		{"AWS_SHARED_CREDENTIALS_FILE", "", "", map[string]string{"AWS_SHARED_CREDENTIALS_FILE": p}, Keys{AccessKeyID: "AKIDDEFAULT", SecretAccessKey: secret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			k, err := FileCredentials(tc.path, tc.profile)(ctx)
			if err != nil || k != tc.want {
				t.Errorf("got %s, %v; want %s", k, err, tc.want)
			}
		})
	}

	// ~/.aws/credentials when nothing says otherwise.
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.Mkdir(filepath.Join(home, ".aws"), 0o700)
	os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[default]\naws_access_key_id=AKIDHOME\naws_secret_access_key="+secret+"\n"), 0o600)
	if k, err := FileCredentials("", "")(ctx); err != nil || k.AccessKeyID != "AKIDHOME" {
		t.Errorf("~/.aws/credentials: %s, %v", k, err)
	}
}

// TestFileCredentialsErrors checks the errors for files without keys and
// broken files: each names the file and what to change, none holds the
// secret, and only a missing file or profile is ErrNoCredentials.
func TestFileCredentialsErrors(t *testing.T) {
	clearAWSEnv(t)
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		name    string
		path    string
		profile string
		none    bool // ErrNoCredentials
		want    []string
	}{
		{"missing file", missing, "", true, []string{missing, "does not exist"}},
		{"missing profile", writeFile(t, "[other]\naws_access_key_id=A\naws_secret_access_key=B\n"), "team", true, []string{"no [team] profile"}},
		{"no secret", writeFile(t, "[default]\naws_access_key_id=A\n"), "", false, []string{"[default]", "set both aws_access_key_id and aws_secret_access_key"}},
		{"line without =", writeFile(t, "[default]\naws_access_key_id=A\naws_secret_access_key "+secret+"\n"), "", false, []string{"line 3", "key = value"}},
		{"broken section", writeFile(t, "[default\naws_secret_access_key="+secret+"\n"), "", false, []string{"line 1", "[name]"}},
		{"secret on a line too long", writeFile(t, "[default]\naws_secret_access_key="+secret+strings.Repeat("x", 70000)+"\n"), "", false, []string{"line 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FileCredentials(tc.path, tc.profile)(ctx)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrNoCredentials) != tc.none {
				t.Errorf("errors.Is(%v, ErrNoCredentials) = %v, want %v", err, !tc.none, tc.none)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			noSecret(t, tc.name, err)
		})
	}
}

func TestDefaultCredentials(t *testing.T) {
	clearAWSEnv(t)
	ctx := context.Background()
	_, err := DefaultCredentials()(ctx)
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("nothing set: %v, want ErrNoCredentials", err)
	}
	for _, w := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", filepath.Join(os.Getenv("HOME"), ".aws", "credentials"), "[default]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("nothing set: %q does not say %q", err, w)
		}
	}
	p := writeFile(t, "[default]\naws_access_key_id=AKIDFILE\naws_secret_access_key="+secret+"\n")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", p)
	if k, err := DefaultCredentials()(ctx); err != nil || k.AccessKeyID != "AKIDFILE" {
		t.Errorf("file only: %s, %v", k, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	if k, err := DefaultCredentials()(ctx); err != nil || k.AccessKeyID != "AKIDENV" {
		t.Errorf("environment and file: %s, %v; want the environment's", k, err)
	}
	// Broken keys in the environment are an error, not a reason to use
	// the file.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	if _, err := DefaultCredentials()(ctx); err == nil || errors.Is(err, ErrNoCredentials) {
		t.Errorf("half the keys in the environment: %v, want an error", err)
	}
}

// TestKeysNeverPrinted checks that no way of printing or logging Keys
// shows the secret or the session token.
func TestKeysNeverPrinted(t *testing.T) {
	k := Keys{AccessKeyID: "AKIDSHOWN", SecretAccessKey: secret, SessionToken: "session-" + secret}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("keys", "keys", k, "ptr", &k)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "keys", k)
	for _, s := range []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %q %x", k, k, k, k, k, k),
		fmt.Sprintf("%v %+v", &k, &k), fmt.Sprintf("%v", []Keys{k}), fmt.Sprintf("%+v", struct{ K Keys }{k}),
		k.String(), logged.String(),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, "session-") {
			t.Errorf("printed keys show a secret: %s", s)
		}
		if !strings.Contains(s, "AKIDSHOWN") {
			t.Errorf("printed keys do not show the access key ID: %s", s)
		}
	}
}

// TestProviderRenews checks that the store asks its Credentials again only
// when the keys expire.
func TestProviderRenews(t *testing.T) {
	calls := 0
	expires := time.Now().Add(time.Hour)
	p := &provider{creds: func(context.Context) (Keys, error) {
		calls++
		return Keys{AccessKeyID: fmt.Sprint("K", calls), SecretAccessKey: "s", Expires: expires}, nil
	}, first: &Keys{AccessKeyID: "K0", SecretAccessKey: "s", Expires: expires}}
	if v, err := p.Retrieve(); err != nil || v.AccessKeyID != "K0" || calls != 0 {
		t.Fatalf("first Retrieve = %s, %v after %d calls; want Open's keys, no call", v.AccessKeyID, err, calls)
	}
	if p.IsExpired() {
		t.Error("keys an hour from expiry are expired")
	}
	expires = time.Now().Add(renewBefore / 2)
	if v, _ := p.Retrieve(); v.AccessKeyID != "K1" || calls != 1 {
		t.Errorf("second Retrieve = %s after %d calls; want K1 from one call", v.AccessKeyID, calls)
	}
	if !p.IsExpired() {
		t.Error("keys within renewBefore of expiry are not expired")
	}
	never := &provider{creds: Static(Keys{AccessKeyID: "A", SecretAccessKey: "s"})}
	never.Retrieve()
	if never.IsExpired() {
		t.Error("keys without Expires expired")
	}
}
