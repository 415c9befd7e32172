package settings

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// The store setting: absent or "" is the cache directory alone; a store
// URL is kept as written; a bad one is refused with a FieldError that
// names "store" and what to change, and never shows a secret.
func TestStoreSetting(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{}`)
	if s, err := Load(path); err != nil || s.Store != "" {
		t.Fatalf("absent: %q, %v", s.Store, err)
	}
	const good = "s3://team-cache/hubmirror?endpoint=http://127.0.0.1:8333&region=us-east-1&path_style=true"
	write(`{"store": "` + good + `"}`)
	if s, err := Load(path); err != nil || s.Store != good {
		t.Fatalf("store: %q, %v", s.Store, err)
	}

	for _, tc := range []struct {
		url  string
		want []string // in the message
		not  string   // never in it
	}{
		{"http://bucket/prefix", []string{"must start with s3://"}, ""},
		{"s3://Bad_Bucket/p", []string{"is not a bucket name"}, ""},
		{"s3://bucket/p?endpoint=ftp://x", []string{"endpoint", "http://"}, ""},
		{"s3://bucket/p?color=blue", []string{`unknown query key "color"`, "endpoint, region and path_style"}, ""},
		{"s3://AKIAEXAMPLE:s3cr3t-value@bucket/p", []string{"holds credentials", "AWS_ACCESS_KEY_ID"}, "s3cr3t-value"},
		{"s3://bucket/p?endpoint=https://user:s3cr3t-value@host", []string{"endpoint"}, "s3cr3t-value"},
	} {
		s := Settings{Listen: DefaultListen, CacheDir: "/tmp/cache", Store: tc.url}
		err := s.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "store" {
			t.Errorf("%s: %v, want a FieldError for \"store\"", tc.url, err)
			continue
		}
		for _, w := range append(tc.want, `"store"`, "is not a valid store URL") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.url, err, w)
			}
		}
		if tc.not != "" && (strings.Contains(err.Error(), tc.not) || strings.Contains(fe.In(i18n.Chinese), tc.not)) {
			t.Errorf("%s: the message shows the secret: %q", tc.url, err)
		}
		if zh := fe.In(i18n.Chinese); !strings.Contains(zh, "对象存储") {
			t.Errorf("%s: in Chinese %q", tc.url, zh)
		}
	}

	write(`{"stor": "s3://b/p"}`)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `"store"`) {
		t.Errorf("unknown field: %v, want the known fields to list \"store\"", err)
	}
}

// --store overrides the file, "" turns the store off, and a bad URL is
// refused naming the flag, without its secret.
func TestStoreFlag(t *testing.T) {
	tempHome(t)
	path := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(path, []byte(`{"store": "s3://from-file/p?endpoint=http://127.0.0.1:8333"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (Settings, error) {
		t.Helper()
		var f Flags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f.Register(fs)
		if err := fs.Parse(append([]string{"--config", path}, args...)); err != nil {
			t.Fatal(err)
		}
		s, _, err := f.Load()
		return s, err
	}
	if s, err := load(); err != nil || s.Store != "s3://from-file/p?endpoint=http://127.0.0.1:8333" {
		t.Errorf("no flag: %q, %v", s.Store, err)
	}
	if s, err := load("--store", "s3://from-flag"); err != nil || s.Store != "s3://from-flag" {
		t.Errorf("--store s3://from-flag: %q, %v", s.Store, err)
	}
	if s, err := load("--store", ""); err != nil || s.Store != "" {
		t.Errorf(`--store "": %q, %v`, s.Store, err)
	}
	_, err := load("--store", "s3://key:s3cr3t-value@bucket")
	if err == nil || !strings.Contains(err.Error(), "--store") || !strings.Contains(err.Error(), "holds credentials") || strings.Contains(err.Error(), "s3cr3t-value") {
		t.Errorf("--store with credentials: %v", err)
	}
}
