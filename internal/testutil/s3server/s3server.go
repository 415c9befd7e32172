// Package s3server starts a real S3-compatible server for tests: SeaweedFS's
// weed, as one `weed mini` process (master, volume server, filer, S3
// gateway) on 127.0.0.1, on ports the kernel picked, with its data in a
// temporary directory and one access key. It is stopped at the test's
// cleanup: its process group is killed, and its directory and the Unix
// sockets weed puts in /tmp are removed. It is imported only by _test.go
// files.
//
// The weed binary is $HUBMIRROR_WEED, else the one scripts/seaweedfs.sh
// builds into the tools cache. When it is missing the test is skipped with
// the command that builds it, or fails when HUBMIRROR_E2E=1 (as under
// scripts/test.sh and CI).
//
// Start gives a test a server of its own (a test that stops the server or
// must see it empty); Shared gives every test of a package one server,
// started on first use, for packages whose TestMain calls Run. Either way
// NewBucket makes a bucket no other test uses.
package s3server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The server's one identity, allowed everything, and its region.
const (
	AccessKey = "hubmirror-test-access"
	SecretKey = "hubmirror-test-secret-7f3c9a1e5b"
	Region    = "us-east-1"
)

// Bucket is the bucket every server has from the start.
const Bucket = "hubmirror-test"

// buildScript builds weed, relative to the module root; its WEED_VERSION
// line names the version, and so the cached binary's directory.
const buildScript = "scripts/seaweedfs.sh"

// startPatience is how long a server may take to store its first object.
// It takes about five seconds; a cold, loaded CI machine must not fail a test for
// being slow, and a broken server fails at once when the process exits.
const startPatience = 2 * time.Minute

// e2eHint ends a skip message: it says how to make the skip a failure.
const e2eHint = "set HUBMIRROR_E2E=1 (scripts/test.sh does) to make this a failure"

// Server is a running SeaweedFS S3 server.
type Server struct {
	// Endpoint is the S3 API's URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir holds the server's data, configuration and log.
	Dir string

	client  *minio.Client
	cmd     *exec.Cmd
	ports   []int         // weed's listeners
	sockets []string      // the Unix sockets weed makes outside Dir
	exited  chan struct{} // closed when the process has exited
	log     string        // weed's standard output and error
	stop    sync.Once
	buckets atomic.Int64 // for NewBucket's names
}

// Start starts a server for tb alone and stops it at tb's cleanup. The
// Bucket bucket exists.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binary(tb)
	s, err := start(bin)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("the end of SeaweedFS's log (%s):\n%s", s.log, s.LogTail(40))
		}
		s.Stop()
	})
	return s
}

// shared is the server Shared hands out, started on first use and stopped
// by Run.
var shared struct {
	mu     sync.Mutex
	inMain bool // Run is running the tests
	s      *Server
	err    error
}

// Run runs m's tests and then stops the server Shared started, if it did.
// A package whose tests call Shared has
//
//	func TestMain(m *testing.M) { os.Exit(s3server.Run(m)) }
func Run(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s != nil {
		shared.s.Stop()
	}
	return code
}

// Shared returns the package's one server, starting it on the first call.
// Tests that share it use buckets of their own (NewBucket).
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		tb.Fatal("s3server.Shared needs the package's TestMain to call s3server.Run")
	}
	bin := binary(tb)
	if shared.s == nil && shared.err == nil {
		shared.s, shared.err = start(bin)
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	select {
	case <-shared.s.exited:
		tb.Fatalf("the shared SeaweedFS server has exited; the end of its log (%s):\n%s", shared.s.log, shared.s.LogTail(40))
	default:
	}
	return shared.s
}

// Client is an S3 client of the server with its access key, for tests to
// look at and change the bucket behind the code under test.
func (s *Server) Client() *minio.Client { return s.client }

// URL is the store URL of bucket and prefix on this server, as hubmirror's
// --store takes it.
func (s *Server) URL(bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s&path_style=true", bucket, prefix, s.Endpoint, Region)
}

// NewBucket creates a bucket that no other test uses, named after tb.
func (s *Server) NewBucket(tb testing.TB) string {
	tb.Helper()
	name := bucketName(tb.Name(), s.buckets.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: Region}); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// bucketName makes a valid bucket name (3 to 63 of a-z, 0-9 and -) from a
// test's name and a number.
func bucketName(test string, n int64) string {
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(test), "-"), "-")
	suffix := "-" + strconv.FormatInt(n, 10)
	if max := 63 - len("t-") - len(suffix); len(name) > max {
		name = strings.TrimRight(name[:max], "-")
	}
	return "t-" + name + suffix
}

// Stop kills the server's process group and removes what it left. It may
// be called more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		killGroup(s.cmd)
		<-s.exited
		for _, p := range s.sockets {
			os.Remove(p)
		}
		os.RemoveAll(s.Dir)
	})
}

// Exited is closed when the server's process has exited.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// LogTail is the last n lines of the server's output.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v; Stop removes it)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// binary is the weed binary, skipping tb (or failing it when
// HUBMIRROR_E2E=1) when it is missing.
func binary(tb testing.TB) string {
	tb.Helper()
	bin, err := Binary()
	if err == nil {
		return bin
	}
	if os.Getenv("HUBMIRROR_E2E") == "1" {
		tb.Fatal(err.Error() + " (HUBMIRROR_E2E=1)")
	}
	tb.Skip(err.Error() + "; " + e2eHint)
	return ""
}

// Binary is the weed binary: $HUBMIRROR_WEED, else the one
// scripts/seaweedfs.sh builds. Its error says how to get it.
func Binary() (string, error) {
	if p := os.Getenv("HUBMIRROR_WEED"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("HUBMIRROR_WEED=%s is not an executable file: point it at a weed binary or unset it", p)
		}
		return p, nil
	}
	root, err := testutil.ModuleRoot()
	if err != nil {
		return "", err
	}
	p, err := cachedBinary(root)
	if err != nil {
		return "", err
	}
	if !isExecutable(p) {
		return "", fmt.Errorf("SeaweedFS (weed) is not built: run %s (it builds %s, minutes the first time) or set HUBMIRROR_WEED to a weed binary",
			filepath.Join(root, buildScript), p)
	}
	return p, nil
}

// cachedBinary is where scripts/seaweedfs.sh puts weed: the tools
// directory ($HUBMIRROR_TOOLS_BIN, else $XDG_CACHE_HOME or ~/.cache, then
// hubmirror/tools), weed-VERSION/weed.
func cachedBinary(root string) (string, error) {
	version, err := weedVersion(filepath.Join(root, buildScript))
	if err != nil {
		return "", err
	}
	dir := os.Getenv("HUBMIRROR_TOOLS_BIN")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("no home directory for the tools cache (%v): set HUBMIRROR_TOOLS_BIN or HUBMIRROR_WEED", err)
			}
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "hubmirror", "tools")
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	return filepath.Join(dir, "weed-"+version, "weed"), nil
}

// weedVersion reads the WEED_VERSION line of the build script, the one
// place the version is written.
func weedVersion(script string) (string, error) {
	f, err := os.Open(script)
	if err != nil {
		return "", fmt.Errorf("read the SeaweedFS version: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "readonly WEED_VERSION="); ok && v != "" {
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", script, err)
	}
	return "", fmt.Errorf("%s has no readonly WEED_VERSION= line", script)
}

// isExecutable reports whether p is a file with an execute bit.
func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// start starts weed and waits until its S3 gateway stores an object. Ports
// are picked by the kernel and closed again before weed binds them, so
// another process may take one in between: weed then exits, and start
// tries again with new ports.
func start(bin string) (*Server, error) {
	var err error
	for range 3 {
		var s *Server
		s, err = startOnce(bin)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, err
}

// errPortTaken is startOnce's error when weed could not bind a port.
var errPortTaken = errors.New("a port was taken before weed bound it")

// ports are weed's listeners, in the order of freePorts' result.
var ports = []string{"master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc", "admin", "admin.grpc"}

// startOnce starts weed once.
func startOnce(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "hubmirror-weed-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	p, err := freePorts(len(ports))
	if err != nil {
		return fail(err)
	}
	port := map[string]int{}
	for i, name := range ports {
		port[name] = p[i]
	}
	config := filepath.Join(dir, "s3.json")
	identities := fmt.Sprintf(`{"identities":[{"name":"hubmirror-test","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","List","Tagging","Write"]}]}`,
		AccessKey, SecretKey)
	if err := os.WriteFile(config, []byte(identities), 0o600); err != nil {
		return fail(err)
	}
	for _, sub := range []string{"data", "log"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return fail(err)
		}
	}
	logPath := filepath.Join(dir, "weed.out")
	out, err := os.Create(logPath)
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(bin, serverArgs(dir, config, port)...)
	cmd.Stdout, cmd.Stderr = out, out
	// weed writes what it does not get a flag for to os.TempDir.
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return fail(fmt.Errorf("start %s: %w", bin, err))
	}
	s := &Server{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port["s3"]),
		Dir:      dir,
		cmd:      cmd,
		ports:    p,
		exited:   make(chan struct{}),
		log:      logPath,
	}
	// weed puts a Unix socket for each gRPC port in /tmp, whatever TMPDIR.
	for _, svc := range []string{"master", "volume", "filer", "s3", "admin"} {
		s.sockets = append(s.sockets, fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", svc, port[svc+".grpc"]))
	}
	go func() {
		cmd.Wait()
		out.Close()
		close(s.exited)
	}()
	s.client, err = newClient(port["s3"], 0)
	var probe *minio.Client
	if err == nil {
		// The probe's client does not retry: waitReady does, and sees weed
		// exit between tries.
		probe, err = newClient(port["s3"], 1)
	}
	if err == nil {
		err = s.waitReady(probe)
	}
	if err != nil {
		tail := s.LogTail(20)
		s.Stop()
		if strings.Contains(tail, "address already in use") {
			return nil, errPortTaken
		}
		return nil, fmt.Errorf("%w; the end of SeaweedFS's log:\n%s", err, tail)
	}
	return s, nil
}

// newClient is a client of the gateway on port with the server's access
// key; maxRetries 0 keeps minio-go's default.
func newClient(port, maxRetries int) (*minio.Client, error) {
	return minio.New(fmt.Sprintf("127.0.0.1:%d", port), &minio.Options{
		Creds:        credentials.NewStaticV4(AccessKey, SecretKey, ""),
		Region:       Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   maxRetries,
	})
}

// serverArgs is weed's command line: `weed mini`, one process with a
// master, a volume server, a filer, the S3 gateway and the admin server,
// everything on 127.0.0.1 and on the ports given, and none of what a test
// does not use (the WebDAV gateway, the admin UI, telemetry, the Iceberg
// and Lance endpoints). mini stores its first object about 5 s after the
// start, `weed server -filer -s3` after about 10 s: its filer waits for
// peers that a one-process cluster never has. Small volumes keep a test's
// disk use small.
func serverArgs(dir, config string, port map[string]int) []string {
	p := func(name string) string { return strconv.Itoa(port[name]) }
	return []string{
		"-logdir=" + filepath.Join(dir, "log"),
		"mini",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-dir=" + filepath.Join(dir, "data"),
		"-master.port=" + p("master"), "-master.port.grpc=" + p("master.grpc"),
		"-master.telemetry=false", "-master.volumeSizeLimitMB=64",
		"-volume.port=" + p("volume"), "-volume.port.grpc=" + p("volume.grpc"),
		"-filer.port=" + p("filer"), "-filer.port.grpc=" + p("filer.grpc"),
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3.port=" + p("s3"), "-s3.port.grpc=" + p("s3.grpc"),
		"-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config=" + config,
		"-admin.ui=false", "-admin.port=" + p("admin"), "-admin.port.grpc=" + p("admin.grpc"), "-admin.port.legacy=0",
		"-webdav=false",
	}
}

// freePorts returns n distinct ports on 127.0.0.1 that were free a moment
// ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls until the gateway creates the Bucket bucket and stores
// and deletes an object in it: the filer and a volume server have then
// registered with the master. It fails when weed exits or after
// startPatience.
func (s *Server) waitReady(c *minio.Client) error {
	deadline := time.Now().Add(startPatience)
	var last error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("SeaweedFS exited before it answered (%v)", s.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("SeaweedFS did not store an object within %s: %v", startPatience, last)
		}
		if last = probe(c); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe creates the Bucket bucket if it is missing and writes and deletes
// an object in it.
func probe(c *minio.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := c.BucketExists(ctx, Bucket)
	if err != nil {
		return err
	}
	if !ok {
		if err := c.MakeBucket(ctx, Bucket, minio.MakeBucketOptions{Region: Region}); err != nil {
			return err
		}
	}
	const key = ".s3server-probe"
	if _, err := c.PutObject(ctx, Bucket, key, strings.NewReader("ok"), 2, minio.PutObjectOptions{}); err != nil {
		return err
	}
	return c.RemoveObject(ctx, Bucket, key, minio.RemoveObjectOptions{})
}
