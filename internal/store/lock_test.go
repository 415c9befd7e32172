package store

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLockDirExcludesSecondHolder: while one lock on a cache directory is
// held, a second attempt in the same process fails with ErrCacheInUse and
// names the holder; once released, the directory can be locked again.
func TestLockDirExcludesSecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := lockDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeOwner(first.owner, "127.0.0.1:5999"); err != nil {
		t.Fatal(err)
	}
	second, err := lockDir(path)
	if err == nil {
		second.Close()
		t.Fatal("a second lock was taken while the first was held")
	}
	if !errors.Is(err, ErrCacheInUse) {
		t.Errorf("second lock: %v, want ErrCacheInUse", err)
	}
	for _, want := range []string{fmt.Sprintf("pid %d", os.Getpid()), "127.0.0.1:5999"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatalf("release: %v", err)
	}
	again, err := lockDir(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Close()
}

// TestLockOwnerRecordFormat: the lock file holds the owner as one line of
// JSON, {"pid":N,"addr":"host:port"}, as every hubmirror so far wrote it,
// and a record in that format written by an older one is read back.
func TestLockOwnerRecordFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lock")
	l, err := lockDir(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := writeOwner(l.owner, "127.0.0.1:5000"); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("another reader cannot read the lock file while it is held: %v", err)
	}
	if want := fmt.Sprintf(`{"pid":%d,"addr":"127.0.0.1:5000"}`+"\n", os.Getpid()); string(raw) != want {
		t.Errorf("lock file %q, want %q", raw, want)
	}
	if got := HolderAddr(dir); got != "127.0.0.1:5000" {
		t.Errorf("HolderAddr = %q", got)
	}

	old := t.TempDir()
	if err := os.WriteFile(filepath.Join(old, "lock"), []byte(`{"pid":4242,"addr":"[::1]:5000"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := HolderAddr(old); got != "[::1]:5000" {
		t.Errorf("HolderAddr of an older record = %q", got)
	}
	if err := inUse(old, filepath.Join(old, "lock")).Error(); !strings.Contains(err, "pid 4242, listening on [::1]:5000") {
		t.Errorf("inUse of an older record: %q", err)
	}
}

// lockHelperEnv names the cache directory the helper process locks.
const lockHelperEnv = "HUBMIRROR_TEST_LOCK_HELPER"

// TestLockHelperProcess is not a test: run by TestLockDirAcrossProcesses
// in a child process, it locks the directory, says so, and holds the lock
// until its stdin closes.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv(lockHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestLockDirAcrossProcesses")
	}
	l, err := lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	if err := writeOwner(l.owner, "127.0.0.1:6001"); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("locked %d\n", os.Getpid())
	_, _ = io.Copy(io.Discard, os.Stdin)
	l.Close()
	os.Exit(0)
}

// TestLockDirAcrossProcesses: a lock held by another process keeps this one
// out, this one learns from the lock file which process that is and where
// it listens, and the lock is free once that process ends.
func TestLockDirAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	pid := helperPID(t, stdout)

	l, err := lockDir(filepath.Join(dir, "lock"))
	if err == nil {
		l.Close()
		t.Fatal("took the lock another process holds")
	}
	if !errors.Is(err, ErrCacheInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d, listening on 127.0.0.1:6001", pid)) {
		t.Errorf("lock held by pid %d: %v", pid, err)
	}
	if got := HolderAddr(dir); got != "127.0.0.1:6001" {
		t.Errorf("HolderAddr while the helper holds the lock = %q", got)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	l, err = lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		t.Fatalf("lock after the holder ended: %v", err)
	}
	l.Close()
}

// helperPID reads the helper's output up to its "locked PID" line (the
// test framework may write lines of its own first) and returns the PID.
func helperPID(t *testing.T, out io.Reader) int {
	t.Helper()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "locked "); ok {
			pid, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("helper said %q", line)
			}
			return pid
		}
		if strings.HasPrefix(line, "error ") {
			t.Fatalf("helper: %s", line)
		}
	}
	t.Fatalf("helper ended without taking the lock: %v", sc.Err())
	return 0
}
