// Package archtest holds no code: its test checks that the module's
// packages import only what the README's table of packages says they may,
// so the table a newcomer reads is the architecture the compiler sees.
package archtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hubmirror/hubmirror"

// readme is the file whose table of packages the test enforces.
const readme = "../../README.md"

// rule is one row of the README's table: a package, relative to the
// module ("." for the command), and the module's packages it may import.
type rule struct {
	pkg   string
	may   []string
	owner string // the row as written, for messages
}

// readRules reads the rows between the <!-- packages --> and
// <!-- /packages --> markers: | `pkg` | what it owns | `a`, `b` or — |.
func readRules(t *testing.T) map[string]rule {
	t.Helper()
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules := map[string]rule{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "<!-- packages -->":
			in = true
			continue
		case line == "<!-- /packages -->":
			in = false
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("README table row %q: want 3 cells (package, owns, may import)", line)
		}
		pkg := strings.Trim(strings.TrimSpace(cells[0]), "`")
		r := rule{pkg: pkg, owner: line}
		for _, p := range strings.Split(cells[2], ",") {
			p = strings.TrimSpace(p)
			if p == "—" || p == "" {
				continue
			}
			if !strings.HasPrefix(p, "`") || !strings.HasSuffix(p, "`") {
				t.Fatalf("README row for %s: may-import entry %q is not a `package`", pkg, p)
			}
			r.may = append(r.may, strings.Trim(p, "`"))
		}
		if _, dup := rules[pkg]; dup {
			t.Fatalf("README table lists %s twice", pkg)
		}
		rules[pkg] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no table of packages between <!-- packages --> markers", readme)
	}
	return rules
}

// listed is one package as go list sees it.
type listed struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	GoFiles      []string
}

// list runs go list over the module with the given build tags.
func list(t *testing.T, tags string) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", tags, "-json", module+"/...")
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rel turns an import path of the module into the README's name for it.
func rel(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// testOnly are packages that exist for tests; no package's code may
// import them.
var testOnly = []string{"internal/testutil", "internal/fakehub"}

// external are the third-party imports that only some packages may make,
// and which ones (with their subpackages).
var external = []struct {
	prefix string
	only   []string
}{
	{"fyne.io/fyne/v2", []string{"internal/ui", "internal/desktop"}},
	{"fyne.io/systray", []string{"internal/traymenu"}},
	{"github.com/zalando/go-keyring", []string{"internal/settings/secrets"}},
	{"github.com/godbus/dbus", []string{"internal/desktop", "internal/traymenu", "scripts/trayhost"}},
	{"github.com/minio/minio-go/v7", []string{"internal/objstore", "internal/testutil/s3server"}},
}

// TestImportRules checks every package's code (with and without the
// nogui tag) against the README's table: it may import only the module's
// packages its row names, a package with code must have a row, and a row
// must name a package that exists.
func TestImportRules(t *testing.T) {
	rules := readRules(t)
	seen := map[string]bool{}
	reported := map[string]bool{}
	errorf := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if !reported[msg] { // the same with and without nogui
			reported[msg] = true
			t.Error(msg)
		}
	}
	for _, tags := range []string{"", "nogui"} {
		for _, p := range list(t, tags) {
			name, _ := rel(p.ImportPath)
			if len(p.GoFiles) == 0 {
				continue // tests only (e2e, this package)
			}
			seen[name] = true
			r, ok := rules[name]
			if !ok {
				errorf("%s has no row in the README's table of packages: add one saying what it owns and what it may import", name)
				continue
			}
			for _, imp := range p.Imports {
				if dep, ok := rel(imp); ok {
					if under(dep, testOnly) && !under(name, testOnly) {
						errorf("%s imports %s, which is for tests only", name, dep)
					} else if !allowed(r.may, dep) {
						errorf("%s imports %s, which its README row does not allow (%s)", name, dep, r.owner)
					}
					continue
				}
				for _, e := range external {
					if (imp == e.prefix || strings.HasPrefix(imp, e.prefix+"/")) && !under(name, e.only) {
						errorf("%s imports %s; only %v may", name, imp, e.only)
					}
				}
			}
		}
	}
	for name := range rules {
		if !seen[name] {
			t.Errorf("the README's table lists %s, which is not a package with code", name)
		}
	}
}

// allowed reports whether dep is one of may, or below one written as
// `dir/...`.
func allowed(may []string, dep string) bool {
	for _, m := range may {
		if m == dep {
			return true
		}
		if d, ok := strings.CutSuffix(m, "/..."); ok && (dep == d || strings.HasPrefix(dep, d+"/")) {
			return true
		}
	}
	return false
}

// under reports whether pkg is one of dirs or below one of them.
func under(pkg string, dirs []string) bool {
	for _, d := range dirs {
		if pkg == d || strings.HasPrefix(pkg, d+"/") {
			return true
		}
	}
	return false
}
