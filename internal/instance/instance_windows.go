//go:build windows

package instance

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// claim creates the named mutex Local\<name> (one per user session; the
// kernel destroys it when the last handle closes, so a crashed instance
// leaves nothing that blocks the next one). Its creator listens on a
// loopback port and writes "<port> <token>" to <user cache dir>\<name>\
// instance.port, a file in the user's profile that other users cannot
// read; a later instance sends the token with its request, so a program
// that took a dead instance's port is not mistaken for it.
//
// CreateMutexW: when the named mutex exists already, the call returns a
// handle to it and GetLastError is ERROR_ALREADY_EXISTS
// (https://learn.microsoft.com/windows/win32/api/synchapi/nf-synchapi-createmutexw);
// x/sys/windows returns that handle with the error.
func claim(name string, show func()) (*Instance, error) {
	portFile, err := portPath(name)
	if err != nil {
		return nil, err
	}
	mutexName, err := windows.UTF16PtrFromString(`Local\` + name)
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	h, err := windows.CreateMutex(nil, false, mutexName)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		windows.CloseHandle(h)
		err := retry(func() error { return askRunning(portFile) })
		if err != nil {
			return nil, fmt.Errorf("%w, but %w", ErrRunning, err)
		}
		return nil, ErrRunning
	}
	if err != nil {
		return nil, fmt.Errorf("instance: create mutex: %w", err)
	}
	release := func() {
		os.Remove(portFile)
		windows.CloseHandle(h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		release()
		return nil, fmt.Errorf("instance: %w", err)
	}
	token := newToken()
	if err := writeFile(portFile, fmt.Sprintf("%d %s\n", ln.Addr().(*net.TCPAddr).Port, token)); err != nil {
		ln.Close()
		release()
		return nil, err
	}
	return (&Instance{ln: ln, token: token, show: show, release: release}).start(), nil
}

// portPath is <user cache dir>\<name>\instance.port (%LocalAppData%).
func portPath(name string) (string, error) {
	parent, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("instance: %w", err)
	}
	dir, err := baseDir(parent, name)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "instance.port"), nil
}

// askRunning reads the running instance's port and token and asks it.
func askRunning(portFile string) error {
	c, token, err := dialPortFile(portFile)
	if err != nil {
		return err
	}
	return ask(c, token)
}

// dial connects to the running instance; its token goes with each request.
func dial(name string) (net.Conn, string, error) {
	portFile, err := portPath(name)
	if err != nil {
		return nil, "", err
	}
	return dialPortFile(portFile)
}

// dialPortFile reads the running instance's port and token and connects.
func dialPortFile(portFile string) (net.Conn, string, error) {
	raw, err := os.ReadFile(portFile)
	if err != nil {
		return nil, "", fmt.Errorf("reach the running instance: %w", err)
	}
	port, token, ok := strings.Cut(strings.TrimSpace(string(raw)), " ")
	if !ok || token == "" {
		return nil, "", fmt.Errorf("reach the running instance: %s is not \"port token\"", portFile)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, "", fmt.Errorf("reach the running instance: %w", err)
	}
	return c, token, nil
}

// writeFile replaces path with data through a temp file and a rename, so
// a later instance never reads half of it.
func writeFile(path, data string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("instance: %w", err)
	}
	return nil
}

// newToken returns 128 random bits in hex.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
