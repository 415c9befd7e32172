package secrets

import (
	"errors"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

func TestSetGetDelete(t *testing.T) {
	keyring.MockInit()
	if _, err := Get("docker.io"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before Set: %v", err)
	}
	want := Credential{Username: "alice", Password: "s3cret-pw"}
	if err := Set("docker.io", want); err != nil {
		t.Fatal(err)
	}
	if err := Set("ghcr.io", Credential{Username: "bob", Password: "other"}); err != nil {
		t.Fatal(err)
	}
	got, err := Get("docker.io")
	if err != nil || got != want {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	if err := Delete("docker.io"); err != nil {
		t.Fatal(err)
	}
	if _, err := Get("docker.io"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := Delete("docker.io"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
	if c, err := Get("ghcr.io"); err != nil || c.Username != "bob" {
		t.Errorf("other registry lost: %+v %v", c, err)
	}
}

func TestUnavailableKeyring(t *testing.T) {
	keyring.MockInitWithError(errors.New("org.freedesktop.secrets was not provided by any .service files"))
	for _, err := range []error{
		Set("docker.io", Credential{Username: "alice", Password: "pw-never-shown"}),
		func() error { _, err := Get("docker.io"); return err }(),
		Delete("docker.io"),
	} {
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
			t.Errorf("error %v, want ErrUnavailable", err)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "pw-never-shown") || strings.Contains(msg, "\n") || !strings.Contains(msg, "gnome-keyring") {
			t.Errorf("message is not one line telling what to do, or leaks: %q", msg)
		}
	}
}
