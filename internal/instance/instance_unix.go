//go:build unix

package instance

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// claim takes an flock on <dir>/instance.lock, which the kernel drops when
// the process ends, so a crashed instance leaves nothing that blocks the
// next one; the holder then listens on <dir>/instance.sock (mode 0600, in a
// 0700 directory). dir is under $XDG_RUNTIME_DIR when it is set, else under
// the user's cache directory.
func claim(name string, show func()) (*Instance, error) {
	dir, sock, err := socketPath(name)
	if err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "instance.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("instance: lock: %w", err)
		}
		err := retry(func() error {
			c, err := net.Dial("unix", sock)
			if err != nil {
				return fmt.Errorf("reach the running instance: %w", err)
			}
			return ask(c, "")
		})
		if err != nil {
			return nil, fmt.Errorf("%w, but %w", ErrRunning, err)
		}
		return nil, ErrRunning
	}
	// The lock is ours, so a socket left here is a dead instance's.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		lock.Close()
		return nil, fmt.Errorf("instance: %w", err)
	}
	return (&Instance{ln: ln, show: show, release: func() { lock.Close() }}).start(), nil
}

// socketPath is the directory the name's files go in and the socket in
// it: under $XDG_RUNTIME_DIR when it is set, else under the user's cache
// directory, or in a private directory in /tmp when that path is too long
// for a socket.
func socketPath(name string) (dir, sock string, err error) {
	parent := os.Getenv("XDG_RUNTIME_DIR")
	if parent == "" {
		if parent, err = os.UserCacheDir(); err != nil {
			return "", "", fmt.Errorf("instance: %w", err)
		}
	}
	if dir, err = baseDir(parent, name); err != nil {
		return "", "", err
	}
	if len(filepath.Join(dir, "instance.sock")) > maxSocketPath {
		if dir, err = privateTempDir(name); err != nil {
			return "", "", err
		}
	}
	return dir, filepath.Join(dir, "instance.sock"), nil
}

// dial connects to the running instance's socket; unix needs no token.
func dial(name string) (net.Conn, string, error) {
	_, sock, err := socketPath(name)
	if err != nil {
		return nil, "", err
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, "", fmt.Errorf("reach the running instance: %w", err)
	}
	return c, "", nil
}

// maxSocketPath stays below the smallest sun_path of the unix systems (104
// bytes on macOS and the BSDs, 108 on Linux).
const maxSocketPath = 100

// privateTempDir is the fallback when the runtime directory's path is too
// long for a socket: /tmp/<name>-<uid>, which must be this user's own
// directory with mode 0700 (another user could have made it first).
func privateTempDir(name string) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("%s-%d", name, os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("instance: %w", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("instance: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || !ok || int(st.Uid) != os.Getuid() || info.Mode().Perm() != 0o700 {
		return "", fmt.Errorf("instance: %s is not a private directory of this user", dir)
	}
	return dir, nil
}
