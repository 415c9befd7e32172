// Package e2e runs the hubmirror binary as a child process against an
// in-process fake Docker Hub and drives it with real registry clients
// (skopeo, crane and the OCI distribution-spec conformance suite).
//
// The clients are external programs. When HUBMIRROR_E2E=1 is set (CI sets
// it) a missing client fails the test; otherwise the test is skipped with the
// command that installs it. Clients are looked up in $HUBMIRROR_TOOLS_BIN,
// then PATH, then $(go env GOPATH)/bin.
package e2e

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hubmirror/hubmirror/internal/testutil"
)

// Tools the tests drive, with the command that installs each one.
var (
	toolSkopeo = tool{name: "skopeo", install: "apt-get install skopeo (or scripts/deps.sh --test)"}
	toolCrane  = tool{
		name:    "crane",
		install: "go install github.com/google/go-containerregistry/cmd/crane@v0.22.1 (or scripts/deps.sh --test)",
	}
	toolConformance = tool{
		name:    "conformance",
		install: "go install github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111 (or scripts/deps.sh --test)",
	}
)

// mirrorBin is the hubmirror binary built once by TestMain; buildErr says
// why it is missing.
var (
	mirrorBin string
	buildOut  []byte
	buildErr  error
	// workDir holds the binary and files shared by several tests; TestMain
	// removes it.
	workDir string
)

// TestMain builds the mirror once for all tests and benchmarks.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hubmirror-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	workDir = dir
	mirrorBin, buildOut, buildErr = buildMirror(dir, "hubmirror", "-tags", "nogui")
	return m.Run()
}

// buildMirror compiles github.com/hubmirror/hubmirror into dir/name with
// the extra go build flags. When the tests themselves run with -race, so
// does the mirror: a data race in the child then makes it exit non-zero,
// which stopMirror reports. The mirror tests use the nogui build (what a
// server runs, and quick to build); the tray test builds the desktop app.
func buildMirror(dir, name string, flags ...string) (string, []byte, error) {
	bin := filepath.Join(dir, name)
	args := append([]string{"build", "-o", bin}, flags...)
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/hubmirror/hubmirror")
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", out, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return bin, out, nil
}

// binary returns the mirror binary built by TestMain or fails tb.
func binary(tb testing.TB) string {
	tb.Helper()
	if buildErr != nil {
		tb.Fatalf("building hubmirror failed: %v\n%s", buildErr, buildOut)
	}
	return mirrorBin
}

// e2eRequired reports whether missing tools must fail the tests.
func e2eRequired() bool { return os.Getenv("HUBMIRROR_E2E") == "1" }

// e2eHint ends every skip message of this package. A plain go test ./...
// reports "ok" for a package whose end-to-end tests all skipped, so the
// message, seen with -v, says how to make the same test run or fail.
const e2eHint = "set HUBMIRROR_E2E=1 (scripts/test.sh does) to make this a failure"

// skipOrFail fails tb with msg when HUBMIRROR_E2E=1, so CI cannot pass
// without the test having run, and otherwise skips it with msg and e2eHint.
func skipOrFail(tb testing.TB, msg string) {
	tb.Helper()
	if e2eRequired() {
		tb.Fatal(msg + " (HUBMIRROR_E2E=1)")
	}
	tb.Skip(msg + "; " + e2eHint)
}

// tool is an external program a test drives.
type tool struct {
	name    string
	install string
}

// path returns where the tool is installed, failing tb when HUBMIRROR_E2E=1
// and skipping it otherwise.
func (tl tool) path(tb testing.TB) string {
	tb.Helper()
	p, err := lookTool(tl.name)
	if err == nil {
		return p
	}
	skipOrFail(tb, fmt.Sprintf("%s not found (%v); install it with: %s", tl.name, err, tl.install))
	return ""
}

// lookTool searches $HUBMIRROR_TOOLS_BIN (by default where scripts/deps.sh
// installs tools, ~/.cache/hubmirror/tools), PATH and $(go env GOPATH)/bin.
func lookTool(name string) (string, error) {
	var searched []string
	dir := os.Getenv("HUBMIRROR_TOOLS_BIN")
	if cache, err := os.UserCacheDir(); dir == "" && err == nil {
		dir = filepath.Join(cache, "hubmirror", "tools")
	}
	if dir != "" {
		if !filepath.IsAbs(dir) {
			if root, err := testutil.ModuleRoot(); err == nil {
				dir = filepath.Join(root, dir)
			}
		}
		if p, ok := executable(filepath.Join(dir, name)); ok {
			return p, nil
		}
		searched = append(searched, dir)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	searched = append(searched, "PATH")
	if gopath := goPath(); gopath != "" {
		for _, dir := range filepath.SplitList(gopath) {
			bin := filepath.Join(dir, "bin")
			if p, ok := executable(filepath.Join(bin, name)); ok {
				return p, nil
			}
			searched = append(searched, bin)
		}
	}
	return "", fmt.Errorf("it is not in %s", strings.Join(searched, ", "))
}

func executable(p string) (string, bool) {
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", false
	}
	return p, true
}

var goPath = sync.OnceValue(func() string {
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// runTool runs a client with env added to a clean environment and fails tb
// with the combined output when it exits non-zero.
func runTool(tb testing.TB, env []string, bin string, args ...string) []byte {
	tb.Helper()
	out, err := runToolErr(env, bin, args...)
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return out
}

// runToolErr is runTool returning the error instead of failing.
func runToolErr(env []string, bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), err
	}
	return stdout.Bytes(), nil
}

// isolatedEnv returns the current environment with HOME, the XDG
// directories and TMPDIR pointed into a fresh temporary directory, so child
// processes neither read nor write the user's files.
func isolatedEnv(tb testing.TB, extra ...string) []string {
	tb.Helper()
	root := tb.TempDir()
	dirs := map[string]string{
		"HOME":            "home",
		"XDG_CONFIG_HOME": "config",
		"XDG_CACHE_HOME":  "cache",
		"XDG_DATA_HOME":   "data",
		"XDG_STATE_HOME":  "state",
		"XDG_RUNTIME_DIR": "runtime",
		"DOCKER_CONFIG":   "docker",
		"TMPDIR":          "tmp",
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := dirs[k]; ok {
			continue
		}
		switch k {
		case "REGISTRY_AUTH_FILE", "CONTAINERS_REGISTRIES_CONF", "CONTAINERS_CONF":
			continue
		}
		env = append(env, kv)
	}
	for k, sub := range dirs {
		p := filepath.Join(root, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			tb.Fatal(err)
		}
		env = append(env, k+"="+p)
	}
	env = append(env, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	return append(env, extra...)
}

// recordingTB is a testing.TB that records what Skip and Fatal were called
// with and ends the calling goroutine as the real ones do, so a helper can
// be checked in both modes without skipping or failing the outer test.
type recordingTB struct {
	testing.TB
	skipped, fatal []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Skip(args ...any) {
	r.skipped = append(r.skipped, fmt.Sprint(args...))
	runtime.Goexit()
}

func (r *recordingTB) Fatal(args ...any) {
	r.fatal = append(r.fatal, fmt.Sprint(args...))
	runtime.Goexit()
}

// record runs f with a recordingTB on its own goroutine, as the testing
// package runs a test, and returns what it recorded.
func record(f func(testing.TB)) *recordingTB {
	r := &recordingTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

// TestMissingToolSkipsOrFails checks both modes of a missing client: a plain
// go test skips with a message naming HUBMIRROR_E2E=1 and the install
// command, and HUBMIRROR_E2E=1 turns the same absence into a failure.
func TestMissingToolSkipsOrFails(t *testing.T) {
	// PATH stays: goPath, cached once, runs go from it for every test.
	t.Setenv("HUBMIRROR_TOOLS_BIN", t.TempDir())
	missing := tool{name: "hubmirror-no-such-tool", install: "apt-get install no-such-tool"}

	t.Setenv("HUBMIRROR_E2E", "")
	r := record(func(tb testing.TB) { missing.path(tb) })
	if len(r.fatal) != 0 || len(r.skipped) != 1 {
		t.Fatalf("without HUBMIRROR_E2E: skipped %q, failed %q; want one skip", r.skipped, r.fatal)
	}
	for _, want := range []string{missing.name, missing.install, e2eHint} {
		if !strings.Contains(r.skipped[0], want) {
			t.Errorf("skip message %q lacks %q", r.skipped[0], want)
		}
	}

	t.Setenv("HUBMIRROR_E2E", "1")
	r = record(func(tb testing.TB) { missing.path(tb) })
	if len(r.skipped) != 0 || len(r.fatal) != 1 {
		t.Fatalf("with HUBMIRROR_E2E=1: skipped %q, failed %q; want one failure", r.skipped, r.fatal)
	}
	if !strings.Contains(r.fatal[0], missing.install) {
		t.Errorf("failure %q lacks the install command %q", r.fatal[0], missing.install)
	}
}

// TestSkipMessagesNameTheSwitch reads this package's sources and requires
// every Skip, Skipf and SkipNow call to say how to make the test run: with
// e2eHint or a literal naming a HUBMIRROR_ variable. A skip that says
// neither is how a plain go test ./... reports "ok" while testing nothing.
func TestSkipMessagesNameTheSwitch(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("listing the test files: %v (found %d)", err, len(files))
	}
	fset := token.NewFileSet()
	calls := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch sel.Sel.Name {
			case "Skip", "Skipf", "SkipNow":
			default:
				return true
			}
			calls++
			if !namesSwitch(call.Args) {
				t.Errorf("%s: %s does not say how to run the test (add e2eHint)", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if calls == 0 {
		t.Fatal("found no Skip calls: the check would prove nothing")
	}
}

// namesSwitch reports whether the arguments of a Skip call mention e2eHint
// or hold a string literal naming a HUBMIRROR_ variable.
func namesSwitch(args []ast.Expr) bool {
	found := false
	for _, arg := range args {
		ast.Inspect(arg, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				found = found || n.Name == "e2eHint"
			case *ast.BasicLit:
				found = found || (n.Kind == token.STRING && strings.Contains(n.Value, "HUBMIRROR_"))
			}
			return !found
		})
	}
	return found
}
