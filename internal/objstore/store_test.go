package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

func TestMain(m *testing.M) { os.Exit(s3server.Run(m)) }

// testKeys are the shared server's keys.
var testKeys = Keys{AccessKeyID: s3server.AccessKey, SecretAccessKey: s3server.SecretKey}

// newStore opens a store on a bucket of its own on the shared SeaweedFS
// server, under the prefix "p/q".
func newStore(t *testing.T) (*Store, *s3server.Server) {
	t.Helper()
	srv := s3server.Shared(t)
	cfg, err := ParseURL(srv.URL(srv.NewBucket(t), "p/q"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), cfg, Static(testKeys))
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

// pattern is n bytes that differ at every offset a test reads.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// getBytes reads n bytes of key from off with Get.
func getBytes(t *testing.T, s *Store, key string, off, n int64) []byte {
	t.Helper()
	r, err := s.Get(context.Background(), key, off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadsLeft lists what is in the store's UploadsDir, as objects and as
// multipart uploads never completed.
func uploadsLeft(t *testing.T, s *Store) (objects, multipart []string) {
	t.Helper()
	ctx := context.Background()
	for i, err := range s.List(ctx, UploadsDir) {
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, i.Key)
	}
	prefix, _ := s.object(UploadsDir)
	for u := range s.client.ListIncompleteUploads(ctx, s.cfg.Bucket, prefix, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		multipart = append(multipart, s.relKey(u.Key))
	}
	return objects, multipart
}

// noUploadsLeft fails t if anything is in the store's UploadsDir.
func noUploadsLeft(t *testing.T, s *Store) {
	t.Helper()
	if objs, parts := uploadsLeft(t, s); len(objs)+len(parts) > 0 {
		t.Errorf("uploads left: objects %v, multipart uploads %v", objs, parts)
	}
}

func TestOpen(t *testing.T) {
	srv := s3server.Shared(t)
	ctx := context.Background()
	bucket := srv.NewBucket(t)
	cfg, _ := ParseURL(srv.URL(bucket, ""))
	if _, err := Open(ctx, cfg, Static(testKeys)); err != nil {
		t.Fatalf("Open: %v", err)
	}

	for _, tc := range []struct {
		name  string
		cfg   func(Config) Config
		keys  Keys
		wants []string
	}{
		{"no such bucket", func(c Config) Config { c.Bucket = "no-such-bucket"; return c }, testKeys,
			[]string{`bucket "no-such-bucket" does not exist on ` + srv.Endpoint, "create it"}},
		{"wrong secret", nil, Keys{AccessKeyID: s3server.AccessKey, SecretAccessKey: secret},
			[]string{"refused the secret of access key", s3server.AccessKey, "AWS_SECRET_ACCESS_KEY"}},
		{"unknown access key", nil, Keys{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: secret},
			[]string{`does not know the access key "AKIDUNKNOWN"`, "AWS_ACCESS_KEY_ID"}},
		{"nothing listening", func(c Config) Config { c.Endpoint = "http://" + closedPort(t); return c }, testKeys,
			[]string{"cannot reach the store at http://127.0.0.1:", "endpoint="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				c = tc.cfg(c)
			}
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			_, err := Open(ctx, c, Static(tc.keys))
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			noSecret(t, tc.name, err)
		})
	}

	broken := errors.New("the keyring is locked")
	if _, err := Open(ctx, cfg, func(context.Context) (Keys, error) { return Keys{}, broken }); !errors.Is(err, broken) {
		t.Errorf("Open with failing credentials: %v, want their error", err)
	}
}

// closedPort is an address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestPutGetStat stores objects with PutAtomic and reads them back whole,
// in ranges and as metadata.
func TestPutGetStat(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	data := pattern(100 << 10)
	info, err := s.PutAtomic(ctx, "blobs/sha256/ab/abcd", bytes.NewReader(data), int64(len(data)),
		PutOptions{Meta: map[string]string{"Digest": "sha256:abcd", "last-use": "2026-01-01"}, ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "blobs/sha256/ab/abcd" || info.Size != int64(len(data)) || info.ETag == "" || info.LastModified.IsZero() {
		t.Errorf("PutAtomic = %+v", info)
	}
	st, err := s.Stat(ctx, "blobs/sha256/ab/abcd")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len(data)) || st.Meta["digest"] != "sha256:abcd" || st.Meta["last-use"] != "2026-01-01" || st.ETag != info.ETag {
		t.Errorf("Stat = %+v", st)
	}
	// The object is under the prefix in the bucket, and nowhere else.
	if _, err := srv.Client().StatObject(ctx, s.cfg.Bucket, "p/q/blobs/sha256/ab/abcd", minio.StatObjectOptions{}); err != nil {
		t.Errorf("the object is not under the prefix: %v", err)
	}

	for _, r := range []struct{ off, n int64 }{{0, -1}, {0, 1}, {1, 10}, {4096, 70000}, {int64(len(data)) - 1, -1}, {500, -1}, {100, int64(len(data))}} {
		got := getBytes(t, s, "blobs/sha256/ab/abcd", r.off, r.n)
		end := int64(len(data))
		if r.n >= 0 && r.off+r.n < end {
			end = r.off + r.n
		}
		if !bytes.Equal(got, data[r.off:end]) {
			t.Errorf("Get(%d, %d): %d bytes, want data[%d:%d]", r.off, r.n, len(got), r.off, end)
		}
	}
	if got := getBytes(t, s, "blobs/sha256/ab/abcd", 10, 0); len(got) != 0 {
		t.Errorf("Get of 0 bytes read %d", len(got))
	}
	if _, err := s.Get(ctx, "blobs/sha256/ab/abcd", int64(len(data)), 1); err == nil {
		t.Error("Get past the end succeeded")
	}
	if _, err := s.Get(ctx, "blobs/sha256/ab/abcd", -1, 1); err == nil {
		t.Error("Get at a negative offset succeeded")
	}

	for _, op := range []func() error{
		func() error { _, err := s.Stat(ctx, "missing"); return err },
		func() error { _, err := s.Get(ctx, "missing", 0, -1); return err },
		func() error { _, err := s.Get(ctx, "missing", 5, 10); return err },
		func() error { _, err := s.Get(ctx, "missing", 0, 0); return err },
		func() error { _, err := s.SetMeta(ctx, "missing", map[string]string{"a": "b"}); return err },
	} {
		if err := op(); !errors.Is(err, ErrNotFound) {
			t.Errorf("on a missing key: %v, want ErrNotFound", err)
		}
	}
	if ok, err := s.Exists(ctx, "blobs/sha256/ab/abcd"); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	if err := s.Delete(ctx, "blobs/sha256/ab/abcd"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(ctx, "blobs/sha256/ab/abcd"); ok || err != nil {
		t.Errorf("Exists after Delete = %v, %v", ok, err)
	}
	if err := s.Delete(ctx, "blobs/sha256/ab/abcd"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	noUploadsLeft(t, s)
}

// TestPutAtomicStream uploads a stream of unknown length over one part.
func TestPutAtomicStream(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	data := pattern(streamPartSize + 3<<20)
	info, err := s.PutAtomic(ctx, "big", io.MultiReader(bytes.NewReader(data)), -1, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) {
		t.Errorf("size %d, want %d", info.Size, len(data))
	}
	if got := getBytes(t, s, "big", 0, -1); sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("read back %d bytes that differ from the %d put", len(got), len(data))
	}
	noUploadsLeft(t, s)
}

// TestPutAtomicVerify checks that a failing Verify keeps the object from
// appearing, and that a short stream does too.
func TestPutAtomicVerify(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	mismatch := errors.New("digest mismatch")
	verified := false
	_, err := s.PutAtomic(ctx, "blob", strings.NewReader("corrupt"), 7, PutOptions{Verify: func() error { verified = true; return mismatch }})
	if !errors.Is(err, mismatch) || !verified {
		t.Fatalf("PutAtomic = %v (Verify ran: %v), want the Verify error", err, verified)
	}
	if ok, _ := s.Exists(ctx, "blob"); ok {
		t.Error("an object that failed Verify is under its key")
	}
	if _, err := s.PutAtomic(ctx, "blob", strings.NewReader("short"), 100, PutOptions{}); err == nil {
		t.Error("PutAtomic of 5 bytes announced as 100 succeeded")
	}
	if ok, _ := s.Exists(ctx, "blob"); ok {
		t.Error("a short upload is under its key")
	}
	noUploadsLeft(t, s)
}

func TestPutAtomicIfAbsent(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.PutAtomic(ctx, "k", strings.NewReader("first"), 5, PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	_, err := s.PutAtomic(ctx, "k", strings.NewReader("second"), 6, PutOptions{IfAbsent: true})
	if !errors.Is(err, ErrExists) {
		t.Errorf("second PutAtomic with IfAbsent: %v, want ErrExists", err)
	}
	if got := getBytes(t, s, "k", 0, -1); string(got) != "first" {
		t.Errorf("after a refused PutAtomic the object is %q", got)
	}
	if _, err := s.PutAtomic(ctx, "k", strings.NewReader("third"), 5, PutOptions{}); err != nil {
		t.Errorf("PutAtomic without IfAbsent over an object: %v", err)
	}
	if got := getBytes(t, s, "k", 0, -1); string(got) != "third" {
		t.Errorf("the object is %q, want third", got)
	}
	noUploadsLeft(t, s)
}

// TestPutAtomicLargeCopy runs the copy-in-parts path of objects over
// maxCopy, with maxCopy lowered.
func TestPutAtomicLargeCopy(t *testing.T) {
	s, _ := newStore(t)
	s.maxCopy = 10
	ctx := context.Background()
	data := pattern(1000)
	if _, err := s.PutAtomic(ctx, "k", bytes.NewReader(data), int64(len(data)), PutOptions{Meta: map[string]string{"a": "1"}, IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutAtomic(ctx, "k", bytes.NewReader(data), int64(len(data)), PutOptions{IfAbsent: true}); !errors.Is(err, ErrExists) {
		t.Errorf("second PutAtomic with IfAbsent: %v, want ErrExists", err)
	}
	info, err := s.SetMeta(ctx, "k", map[string]string{"b": "2"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Meta["a"] != "1" || info.Meta["b"] != "2" {
		t.Errorf("metadata after SetMeta: %v", info.Meta)
	}
	if got := getBytes(t, s, "k", 0, -1); !bytes.Equal(got, data) {
		t.Error("content changed")
	}
	noUploadsLeft(t, s)
}

// blockingReader hands out data up to at, says so on reached, and then
// blocks until ctx is done; with at the length of data it ends with EOF.
type blockingReader struct {
	ctx     context.Context
	data    []byte
	at      int
	off     int
	reached chan struct{}
	once    sync.Once
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	if r.off >= r.at {
		r.once.Do(func() { close(r.reached) })
		<-r.ctx.Done()
		return 0, r.ctx.Err()
	}
	n := copy(p, r.data[r.off:r.at])
	r.off += n
	return n, nil
}

// TestPutAtomicCanceled cancels the context of uploads mid-way, in one
// PUT and in parts: nothing appears under the key and PutAtomic deletes
// what it uploaded.
func TestPutAtomicCanceled(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size, at int
	}{
		{"one PUT", 8 << 20, 3 << 20},
		{"multipart", 2*streamPartSize + 1<<20, streamPartSize + 2<<20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			ctx, cancel := context.WithCancel(context.Background())
			r := &blockingReader{ctx: ctx, data: pattern(tc.size), at: tc.at, reached: make(chan struct{})}
			done := make(chan error, 1)
			go func() {
				_, err := s.PutAtomic(ctx, "blob", r, int64(tc.size), PutOptions{})
				done <- err
			}()
			testutil.Await(t, r.reached, "the upload to reach its middle")
			cancel()
			if err := testutil.Await(t, done, "PutAtomic to return"); err == nil {
				t.Fatal("a canceled PutAtomic succeeded")
			}
			if ok, err := s.Exists(context.Background(), "blob"); ok || err != nil {
				t.Errorf("after the cancel: Exists = %v, %v", ok, err)
			}
			noUploadsLeft(t, s)
		})
	}
}

// childEnv names the variable that makes TestPutAtomicKilled the child
// process that uploads and is killed.
const childEnv = "OBJSTORE_KILLED_CHILD"

// TestPutAtomicKilled kills a process in the middle of PutAtomic: in one
// PUT, in a multipart upload, and after the upload before the copy to the
// key. Nothing is ever under the key; CleanUploads removes what is left;
// the next PutAtomic works.
func TestPutAtomicKilled(t *testing.T) {
	if mode := os.Getenv(childEnv); mode != "" {
		killedChild(mode)
		return
	}
	for _, mode := range []string{"single", "multipart", "verify"} {
		t.Run(mode, func(t *testing.T) {
			s, _ := newStore(t)
			cmd := testCommand(t, "^TestPutAtomicKilled$")
			cmd.Env = append(os.Environ(), childEnv+"="+mode, "OBJSTORE_URL="+s.cfg.String(),
				"AWS_ACCESS_KEY_ID="+testKeys.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+testKeys.SecretAccessKey,
				"AWS_SESSION_TOKEN=", "AWS_SHARED_CREDENTIALS_FILE=")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line := make(chan string, 1)
			go func() {
				b := make([]byte, 64)
				n, _ := io.ReadAtLeast(stdout, b, 1)
				line <- strings.TrimSpace(string(b[:n]))
			}()
			select {
			case got := <-line:
				if got != "reached" {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("the child said %q, not reached; its stderr:\n%s", got, stderr.String())
				}
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("the child did not reach the middle of its upload; its stderr:\n%s", stderr.String())
			}
			cmd.Process.Kill()
			cmd.Wait()

			ctx := context.Background()
			if ok, err := s.Exists(ctx, "blob"); ok || err != nil {
				t.Fatalf("after the kill: Exists = %v, %v; want nothing under the key", ok, err)
			}
			objs, parts := uploadsLeft(t, s)
			t.Logf("left by the killed process: objects %v, multipart uploads %v", objs, parts)
			if mode == "verify" && len(objs) != 1 {
				t.Errorf("killed before the copy: %d uploads left, want the one complete upload", len(objs))
			}
			if n, err := s.CleanUploads(ctx, time.Hour); err != nil || n != 0 {
				t.Errorf("CleanUploads of uploads an hour old: %d, %v; want none deleted", n, err)
			}
			if n, err := s.CleanUploads(ctx, 0); err != nil || n != len(objs)+len(parts) {
				t.Errorf("CleanUploads = %d, %v; want %d", n, err, len(objs)+len(parts))
			}
			noUploadsLeft(t, s)
			data := pattern(1 << 20)
			if _, err := s.PutAtomic(ctx, "blob", bytes.NewReader(data), int64(len(data)), PutOptions{IfAbsent: true}); err != nil {
				t.Fatalf("PutAtomic after the kill: %v", err)
			}
			if got := getBytes(t, s, "blob", 0, -1); !bytes.Equal(got, data) {
				t.Error("the object put after the kill reads back wrong")
			}
		})
	}
}

// testCommand runs this test binary with -test.run=run.
func testCommand(t *testing.T, run string) *exec.Cmd {
	t.Helper()
	return exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")
}

// killedChild is the child of TestPutAtomicKilled: it uploads until the
// mode's point, prints "reached" and waits to be killed.
func killedChild(mode string) {
	ctx := context.Background()
	cfg, err := ParseURL(os.Getenv("OBJSTORE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := Open(ctx, cfg, DefaultCredentials())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	size, at := 8<<20, 3<<20
	opts := PutOptions{}
	switch mode {
	case "multipart":
		size, at = 2*streamPartSize+1<<20, streamPartSize+2<<20
	case "verify":
		at = size
		opts.Verify = func() error {
			fmt.Println("reached")
			select {}
		}
	}
	r := &blockingReader{ctx: ctx, data: pattern(size), at: at, reached: make(chan struct{})}
	if mode != "verify" {
		go func() {
			<-r.reached
			fmt.Println("reached")
		}()
	}
	_, err = s.PutAtomic(ctx, "blob", r, int64(size), opts)
	fmt.Fprintln(os.Stderr, "PutAtomic returned:", err)
	os.Exit(3)
}

// TestCreateUpdatePut checks the small records' writes and their
// conditions.
func TestCreateUpdatePut(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	first, err := s.Create(ctx, "tags/alpine/3.20", []byte("v1"), map[string]string{"by": "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "tags/alpine/3.20", []byte("v2"), nil); !errors.Is(err, ErrExists) {
		t.Errorf("second Create: %v, want ErrExists", err)
	}
	second, err := s.Update(ctx, "tags/alpine/3.20", []byte("v2"), nil, first.ETag)
	if err != nil {
		t.Fatalf("Update with the current ETag: %v", err)
	}
	if _, err := s.Update(ctx, "tags/alpine/3.20", []byte("v3"), nil, first.ETag); !errors.Is(err, ErrChanged) {
		t.Errorf("Update with an old ETag: %v, want ErrChanged", err)
	}
	if _, err := s.Update(ctx, "tags/none", []byte("v3"), nil, first.ETag); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of a missing key: %v, want ErrNotFound", err)
	}
	if got := getBytes(t, s, "tags/alpine/3.20", 0, -1); string(got) != "v2" {
		t.Errorf("record is %q, want v2", got)
	}
	st, _ := s.Stat(ctx, "tags/alpine/3.20")
	if st.ETag != second.ETag {
		t.Errorf("Stat's ETag %s is not Update's %s", st.ETag, second.ETag)
	}
	if _, err := s.Put(ctx, "tags/alpine/3.20", []byte("v4"), map[string]string{"by": "b"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stat(ctx, "tags/alpine/3.20"); st.Meta["by"] != "b" || st.Size != 2 {
		t.Errorf("after Put: %+v", st)
	}
	for _, bad := range []map[string]string{{"bad key": "v"}, {"k": "line\nbreak"}, {"k": "é"}, {"k": strings.Repeat("x", 3000)}} {
		if _, err := s.Put(ctx, "x", nil, bad); err == nil {
			t.Errorf("Put with metadata %q succeeded", bad)
		}
	}
	if _, err := s.Put(ctx, UploadsDir+"x", nil, nil); err == nil {
		t.Errorf("Put into %s succeeded", UploadsDir)
	}
	for _, bad := range []string{"", "/abs", "a//b"} {
		if _, err := s.Put(ctx, bad, nil, nil); err == nil {
			t.Errorf("Put(%q) succeeded", bad)
		}
	}
}

// TestConditionalRaces has instances race: of 8 Creates of one key
// exactly one succeeds, and of 8 Updates from one ETag exactly one.
func TestConditionalRaces(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	const n = 8
	race := func(op func(i int) error) (won int, errs []error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				err := op(i)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					won++
				} else {
					errs = append(errs, err)
				}
			})
		}
		close(start)
		wg.Wait()
		return won, errs
	}
	won, errs := race(func(i int) error { _, err := s.Create(ctx, "lock", []byte{byte(i)}, nil); return err })
	if won != 1 {
		t.Errorf("%d of %d Creates succeeded, want 1", won, n)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrExists) {
			t.Errorf("a losing Create: %v, want ErrExists", err)
		}
	}
	st, err := s.Stat(ctx, "lock")
	if err != nil {
		t.Fatal(err)
	}
	won, errs = race(func(i int) error { _, err := s.Update(ctx, "lock", []byte{byte(i), 1}, nil, st.ETag); return err })
	if won != 1 {
		t.Errorf("%d of %d Updates from one ETag succeeded, want 1", won, n)
	}
	for _, err := range errs {
		if !errors.Is(err, ErrChanged) {
			t.Errorf("a losing Update: %v, want ErrChanged", err)
		}
	}
}

// TestSetMeta writes last-use stamps: metadata changes, content and
// content type stay, and a stale version is refused.
func TestSetMeta(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.PutAtomic(ctx, "blob", strings.NewReader("content"), 7,
		PutOptions{Meta: map[string]string{"digest": "sha256:x", "last-use": "2026-01-01"}, ContentType: "application/vnd.test"}); err != nil {
		t.Fatal(err)
	}
	info, err := s.SetMeta(ctx, "blob", map[string]string{"Last-Use": "2026-06-01", "pinned": "1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"digest": "sha256:x", "last-use": "2026-06-01", "pinned": "1"}
	if fmt.Sprint(info.Meta) != fmt.Sprint(want) {
		t.Errorf("metadata %v, want %v", info.Meta, want)
	}
	info, err = s.SetMeta(ctx, "blob", map[string]string{"pinned": ""})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.Meta["pinned"]; ok || info.Meta["last-use"] != "2026-06-01" {
		t.Errorf("after removing pinned: %v", info.Meta)
	}
	if got := getBytes(t, s, "blob", 0, -1); string(got) != "content" {
		t.Errorf("content %q after SetMeta", got)
	}
	o, err := s.client.StatObject(ctx, s.cfg.Bucket, "p/q/blob", minio.StatObjectOptions{})
	if err != nil || o.ContentType != "application/vnd.test" {
		t.Errorf("content type %q after SetMeta (%v)", o.ContentType, err)
	}

	// A version that changed after Stat is not overwritten.
	stale := o
	if _, err := s.Put(ctx, "blob", []byte("new"), map[string]string{"by": "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.setMeta(ctx, "blob", "p/q/blob", stale, map[string]string{"last-use": "2027-01-01"}); !errors.Is(err, ErrChanged) {
		t.Errorf("SetMeta of a stale version: %v, want ErrChanged", err)
	}
	if st, _ := s.Stat(ctx, "blob"); st.Meta["by"] != "other" || st.Meta["last-use"] != "" {
		t.Errorf("the newer version's metadata became %v", st.Meta)
	}
}

// TestList lists keys under prefixes, without PutAtomic's uploads and
// without objects outside the store's prefix.
func TestList(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	keys := []string{"blobs/a", "blobs/b/c", "blobs/b/d", "manifests/x", "tags/y"}
	for _, k := range keys {
		if _, err := s.Put(ctx, k, []byte(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Outside the prefix, and an upload in progress.
	srv.Client().PutObject(ctx, s.cfg.Bucket, "elsewhere/blobs/z", strings.NewReader("z"), 1, minio.PutObjectOptions{})
	srv.Client().PutObject(ctx, s.cfg.Bucket, "p/q/"+UploadsDir+"t", strings.NewReader("t"), 1, minio.PutObjectOptions{})

	list := func(prefix string) []string {
		var got []string
		for i, err := range s.List(ctx, prefix) {
			if err != nil {
				t.Fatal(err)
			}
			if i.Size != int64(len(i.Key)) && !strings.HasPrefix(i.Key, UploadsDir) {
				t.Errorf("%s: size %d", i.Key, i.Size)
			}
			got = append(got, i.Key)
		}
		return got
	}
	if got := list(""); !slices.Equal(got, keys) {
		t.Errorf("List(\"\") = %v, want %v", got, keys)
	}
	if got := list("blobs/"); !slices.Equal(got, keys[:3]) {
		t.Errorf("List(blobs/) = %v", got)
	}
	if got := list("blobs/b"); !slices.Equal(got, keys[1:3]) {
		t.Errorf("List(blobs/b) = %v", got)
	}
	if got := list(UploadsDir); !slices.Equal(got, []string{UploadsDir + "t"}) {
		t.Errorf("List(%s) = %v", UploadsDir, got)
	}
	n := 0
	for range s.List(ctx, "") {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("breaking the loop after 2 saw %d", n)
	}
}

// TestPresignGet fetches a presigned URL with a plain HTTP client, and
// checks that an edited one and an expired one are refused.
func TestPresignGet(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	data := pattern(5000)
	if _, err := s.PutAtomic(ctx, "blob", bytes.NewReader(data), int64(len(data)), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "other", []byte("other"), nil); err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	u, err := s.PresignGet(ctx, "blob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(u.String()); code != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET of the presigned URL: %d, %d bytes", code, len(body))
	}
	q := u.Query()
	sig := q.Get("X-Amz-Signature")
	for name, edit := range map[string]func() string{
		"signature": func() string {
			q := u.Query()
			q.Set("X-Amz-Signature", strings.Repeat("0", len(sig)))
			v := *u
			v.RawQuery = q.Encode()
			return v.String()
		},
		"key": func() string { return strings.Replace(u.String(), "/p/q/blob?", "/p/q/other?", 1) },
		"expiry": func() string {
			q := u.Query()
			q.Set("X-Amz-Expires", "604800")
			v := *u
			v.RawQuery = q.Encode()
			return v.String()
		},
	} {
		if code, body := get(edit()); code != http.StatusForbidden {
			t.Errorf("URL with an edited %s: %d %s, want 403", name, code, body)
		}
	}

	short, err := s.PresignGet(ctx, "blob", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the 1 s URL to expire", func() bool {
		code, body := get(short.String())
		return code == http.StatusForbidden && bytes.Contains(body, []byte("expired"))
	})
}

// TestCleanUploadsAge checks that CleanUploads leaves uploads younger
// than its age.
func TestCleanUploadsAge(t *testing.T) {
	s, srv := newStore(t)
	ctx := context.Background()
	srv.Client().PutObject(ctx, s.cfg.Bucket, "p/q/"+UploadsDir+"fresh", strings.NewReader("t"), 1, minio.PutObjectOptions{})
	srv.Client().PutObject(ctx, s.cfg.Bucket, "p/q/blob", strings.NewReader("t"), 1, minio.PutObjectOptions{})
	if n, err := s.CleanUploads(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("CleanUploads(1h) = %d, %v; want 0", n, err)
	}
	if n, err := s.CleanUploads(ctx, 0); err != nil || n != 1 {
		t.Errorf("CleanUploads(0) = %d, %v; want 1", n, err)
	}
	if ok, _ := s.Exists(ctx, "blob"); !ok {
		t.Error("CleanUploads deleted an object outside " + UploadsDir)
	}
}
