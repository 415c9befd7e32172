//go:build unix

package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

const testName = "io.github.hubmirror.test"

// TestSecondInstance: the second claim of a name gets ErrRunning and the
// first one's callback runs; after Close the name can be claimed again.
func TestSecondInstance(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	shown := make(chan struct{}, 1)
	first, err := Claim(testName, func() { shown <- struct{}{} })
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	second, err := Claim(testName, func() { t.Error("the second instance's callback ran") })
	if !errors.Is(err, ErrRunning) || second != nil {
		t.Fatalf("second claim: %v, %v; want ErrRunning", second, err)
	}
	<-shown
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := Claim(testName, func() {})
	if err != nil {
		t.Fatalf("claim after Close: %v", err)
	}
	third.Close()
}

// TestSocketIsPrivate: the socket is the user's alone.
func TestSocketIsPrivate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	in, err := Claim(testName, func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for path, want := range map[string]os.FileMode{
		filepath.Join(dir, testName):                  0o700,
		filepath.Join(dir, testName, "instance.sock"): 0o600,
	} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

// TestStaleSocket: a socket file left by a crashed instance (the lock is
// free) does not stop the next one from claiming the name.
func TestStaleSocket(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	if err := os.MkdirAll(filepath.Join(dir, testName), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, testName, "instance.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	shown := make(chan struct{}, 1)
	in, err := Claim(testName, func() { shown <- struct{}{} })
	if err != nil {
		t.Fatalf("claim over a stale socket: %v", err)
	}
	defer in.Close()
	if _, err := Claim(testName, func() {}); !errors.Is(err, ErrRunning) {
		t.Fatalf("second claim: %v, want ErrRunning", err)
	}
	<-shown
}

// TestBadName: a name with a slash would leave the directory.
func TestBadName(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if _, err := Claim("../x", func() {}); err == nil {
		t.Fatal("Claim(\"../x\") succeeded")
	}
}

// TestLongRuntimeDir: a runtime directory too long for a socket path still
// gives one instance per user (through a private directory in /tmp).
func TestLongRuntimeDir(t *testing.T) {
	long := filepath.Join(t.TempDir(), "a-runtime-directory-whose-path-is-far-too-long-for-a-unix-socket-name-to-fit")
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", long)
	name := testName + ".long"
	first, err := Claim(name, func() {})
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	defer first.Close()
	if _, err := Claim(name, func() {}); !errors.Is(err, ErrRunning) {
		t.Fatalf("second claim: %v; want ErrRunning", err)
	}
}

// TestServeHTTP reaches the first instance's HTTP handler through Dial,
// as the window process does, while "show" keeps working on the same
// socket.
func TestServeHTTP(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	shown := make(chan struct{}, 1)
	first, err := Claim(testName, func() { shown <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return Dial(testName) },
	}}
	// Before Serve, "http" is refused.
	if resp, err := client.Get("http://hubmirror/ping"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET before Serve: %s; want an error", resp.Status)
	}
	first.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pong %s", r.URL.Path)
	}))
	for range 3 { // kept-alive and fresh connections alike
		resp, err := client.Get("http://hubmirror/ping")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "pong /ping" {
			t.Fatalf("body %q", body)
		}
		client.CloseIdleConnections()
	}
	if _, err := Claim(testName, func() {}); err != ErrRunning {
		t.Fatalf("second claim: %v; want ErrRunning", err)
	}
	<-shown
}
