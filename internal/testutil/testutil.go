// Package testutil holds the helpers that tests of several packages share:
// waiting without sleeping a fixed time, and content digests. It is
// imported only by _test.go files.
package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Patience is how long Eventually and Await wait before they fail the
// test. It is generous: a passing test never waits for it, and a slow,
// loaded CI machine must not fail a correct one.
const Patience = 20 * time.Second

// pollEvery is how often Eventually checks its condition.
const pollEvery = 10 * time.Millisecond

// Eventually polls cond until it holds, failing the test with what after
// Patience.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	eventuallyWithin(tb, Patience, what, cond)
}

func eventuallyWithin(tb testing.TB, patience time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", patience, what)
		}
		time.Sleep(pollEvery)
	}
}

// Await receives one value from ch, failing the test with what after
// Patience, so a broken component fails fast instead of hanging until the
// test binary's own timeout. A closed channel yields the zero value.
func Await[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return awaitWithin(tb, Patience, ch, what)
}

func awaitWithin[T any](tb testing.TB, patience time.Duration, ch <-chan T, what string) T {
	tb.Helper()
	timer := time.NewTimer(patience)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		tb.Fatalf("timed out after %s waiting for %s", patience, what)
		panic("unreachable")
	}
}

// Digest is the sha256 content digest of b, as registries write it
// ("sha256:" and 64 lowercase hex digits).
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ModuleRoot is the directory holding go.mod, found upwards from the
// working directory (the package directory under go test).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory: run the tests from inside the module")
		}
		dir = parent
	}
}

// Get sends a GET of url with client (nil: http.DefaultClient) and the
// headers given as name, value pairs, and returns the status and the whole
// body; it fails the test when the request cannot be made or read.
func Get(tb testing.TB, client *http.Client, url string, header ...string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, body
}
