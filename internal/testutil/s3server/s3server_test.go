package s3server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/minio/minio-go/v7"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

// TestStartStop starts a server, stores and reads an object, stops it and
// checks that nothing of it is left: no process, no directory, no socket
// in /tmp, no log file outside its directory.
func TestStartStop(t *testing.T) {
	began := time.Now()
	s := Start(t)
	t.Logf("SeaweedFS stored its first object %s after the start", time.Since(began).Round(time.Millisecond))

	ctx := context.Background()
	c := s.Client()
	if _, err := c.PutObject(ctx, Bucket, "a/b", strings.NewReader("hello"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := c.GetObject(ctx, Bucket, "a/b", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "hello" {
		t.Fatalf("read back %q, %v; want hello", got, err)
	}
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") {
		t.Errorf("Endpoint %s is not on 127.0.0.1", s.Endpoint)
	}
	logs, _ := filepath.Glob(filepath.Join(s.Dir, "log", "weed.*"))
	if len(logs) == 0 {
		t.Errorf("weed wrote no log in %s: it may be writing to the system temp dir", filepath.Join(s.Dir, "log"))
	}
	var found bool
	for _, p := range s.sockets {
		if _, err := os.Stat(p); err == nil {
			found = true
		}
	}
	if !found {
		t.Errorf("none of %v exists while weed runs: the paths the cleanup removes are not weed's", s.sockets)
	}

	s.Stop()
	select {
	case <-s.Exited():
	default:
		t.Fatal("Stop returned with weed still running")
	}
	if groupAlive(s.cmd.Process.Pid) {
		t.Error("weed's process group outlived Stop")
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is left after Stop (%v)", s.Dir, err)
	}
	for _, p := range s.sockets {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left after Stop", p)
		}
	}
	if left := weedTempFiles(t, s); len(left) > 0 {
		t.Errorf("weed left files in the temp dir: %v", left)
	}
	s.Stop() // a second Stop does nothing
}

// weedTempFiles are the files of s's weed in /tmp and the temp dir: the
// Unix sockets named after its ports, and the logs named after its process
// ID that it would write without -logdir.
func weedTempFiles(t *testing.T, s *Server) []string {
	t.Helper()
	patterns := []string{fmt.Sprintf("/tmp/weed.*.%d", s.cmd.Process.Pid), filepath.Join(os.TempDir(), fmt.Sprintf("weed.*.%d", s.cmd.Process.Pid))}
	for _, p := range s.ports {
		patterns = append(patterns, fmt.Sprintf("/tmp/seaweedfs-*-%d.sock", p))
	}
	var all []string
	for _, pattern := range patterns {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, m...)
	}
	return all
}

// TestShared checks that Shared hands every caller the one server and
// that NewBucket gives each its own bucket.
func TestShared(t *testing.T) {
	a := Shared(t)
	b := Shared(t)
	if a != b {
		t.Fatal("two calls of Shared started two servers")
	}
	b1, b2 := a.NewBucket(t), a.NewBucket(t)
	if b1 == b2 {
		t.Fatalf("NewBucket gave %s twice", b1)
	}
	for _, b := range []string{b1, b2, Bucket} {
		ok, err := a.Client().BucketExists(context.Background(), b)
		if err != nil || !ok {
			t.Errorf("bucket %s: exists %v, %v", b, ok, err)
		}
	}
	if want := "s3://" + b1 + "/p?endpoint=" + a.Endpoint + "&region=us-east-1&path_style=true"; a.URL(b1, "p") != want {
		t.Errorf("URL = %s, want %s", a.URL(b1, "p"), want)
	}
}

// TestBucketName checks that names made from any test name are valid
// bucket names.
func TestBucketName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	for _, name := range []string{"TestX", "TestPut/sub_test#01", strings.Repeat("TestVeryLong", 10), "Test--/--"} {
		got := bucketName(name, 12)
		if !valid.MatchString(got) || strings.Contains(got, "--") && !strings.Contains(name, "--") {
			t.Errorf("bucketName(%q) = %q, not a valid bucket name", name, got)
		}
	}
	if bucketName("TestX", 1) == bucketName("TestX", 2) {
		t.Error("bucketName ignores the number")
	}
}

// TestBinaryMissing checks what a test sees without weed: a skip naming
// the script that builds it, or with HUBMIRROR_E2E=1 a failure.
func TestBinaryMissing(t *testing.T) {
	t.Setenv("HUBMIRROR_WEED", "")
	t.Setenv("HUBMIRROR_TOOLS_BIN", t.TempDir())
	_, err := Binary()
	if err == nil || !strings.Contains(err.Error(), buildScript) {
		t.Fatalf("Binary() error = %v, want one naming %s", err, buildScript)
	}

	t.Setenv("HUBMIRROR_E2E", "")
	if got := outcome(func(tb testing.TB) { binary(tb) }); got.skipped == "" || !strings.Contains(got.skipped, buildScript) || !strings.Contains(got.skipped, "HUBMIRROR_E2E=1") {
		t.Errorf("without HUBMIRROR_E2E: %+v, want a skip naming %s and HUBMIRROR_E2E=1", got, buildScript)
	}
	t.Setenv("HUBMIRROR_E2E", "1")
	if got := outcome(func(tb testing.TB) { binary(tb) }); got.failed == "" || !strings.Contains(got.failed, buildScript) {
		t.Errorf("with HUBMIRROR_E2E=1: %+v, want a failure naming %s", got, buildScript)
	}

	t.Setenv("HUBMIRROR_WEED", filepath.Join(t.TempDir(), "nothing"))
	if _, err := Binary(); err == nil || !strings.Contains(err.Error(), "HUBMIRROR_WEED") {
		t.Errorf("Binary() with a wrong HUBMIRROR_WEED: %v, want an error naming it", err)
	}
}

// TestCachedBinaryPath checks that the path the tests look at is the one
// scripts/seaweedfs.sh builds, version included.
func TestCachedBinaryPath(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, buildScript))
	if err != nil {
		t.Fatal(err)
	}
	version := regexp.MustCompile(`(?m)^readonly WEED_VERSION=(\S+)$`).FindSubmatch(script)
	if version == nil {
		t.Fatalf("%s has no WEED_VERSION", buildScript)
	}
	tools := t.TempDir()
	t.Setenv("HUBMIRROR_TOOLS_BIN", tools)
	got, err := cachedBinary(root)
	if want := filepath.Join(tools, "weed-"+string(version[1]), "weed"); err != nil || got != want {
		t.Errorf("cachedBinary = %s, %v; want %s", got, err, want)
	}
	t.Setenv("HUBMIRROR_TOOLS_BIN", "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	if got, _ := cachedBinary(root); got != filepath.Join("/cache", "hubmirror", "tools", "weed-"+string(version[1]), "weed") {
		t.Errorf("with XDG_CACHE_HOME=/cache: %s", got)
	}
}

// result is how a function given a fakeTB ended.
type result struct{ skipped, failed string }

// fakeTB records Skip and Fatal instead of stopping the test.
type fakeTB struct {
	testing.TB
	res result
}

// stop is the panic value that ends the function under outcome.
type stop struct{}

func (f *fakeTB) Helper()        {}
func (f *fakeTB) Skip(a ...any)  { f.res.skipped = strings.TrimSpace(sprint(a)); panic(stop{}) }
func (f *fakeTB) Fatal(a ...any) { f.res.failed = strings.TrimSpace(sprint(a)); panic(stop{}) }

// sprint joins a as Skip and Fatal do.
func sprint(a []any) string {
	var b strings.Builder
	for _, v := range a {
		b.WriteString(v.(string))
	}
	return b.String()
}

// outcome runs fn with a fakeTB and says how it ended.
func outcome(fn func(tb testing.TB)) (res result) {
	tb := &fakeTB{}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stop); !ok {
				panic(r)
			}
		}
		res = tb.res
	}()
	fn(tb)
	return tb.res
}
