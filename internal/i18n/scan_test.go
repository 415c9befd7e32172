package i18n

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the module's root, from this package's folder.
const repoRoot = "../.."

// keyCalls are the functions and methods whose first argument is a catalog
// key: tr (package ui), msg (package main), Lang.T, Lang.F, Lang.Text and
// Key.
var keyCalls = map[string]bool{"tr": true, "msg": true, "T": true, "F": true, "Text": true, "Key": true}

// problemCalls are the mirror's status problems, made in English and
// translated where shown: the argument at the index is the text, where a
// part that is not a literal (u.describe()+" cannot be reached…") stands
// for the key's %s.
var problemCalls = map[string]int{"setProblem": 1, "upstreamProblem": 1, "upstreamFailure": 1}

// fyneCalls are Fyne's functions and methods that show a string argument
// to the user; in package ui each literal passed to them must go through
// tr.
var fyneCalls = map[string]bool{
	"NewLabel": true, "NewLabelWithStyle": true, "NewButton": true, "NewButtonWithIcon": true, "NewCheck": true,
	"NewHyperlink": true, "NewRichTextWithText": true, "NewFormItem": true, "NewTabItem": true, "NewTabItemWithIcon": true,
	"NewMenuItem": true, "NewMenu": true, "NewNotification": true, "NewWindow": true, "NewCard": true,
	"SetText": true, "SetPlaceHolder": true, "SetTitle": true, "SetSubTitle": true,
	"NewConfirm": true, "ShowConfirm": true, "NewInformation": true, "ShowInformation": true, "NewCustom": true,
	"ShowCustom": true, "NewCustomConfirm": true, "ShowCustomConfirm": true, "NewError": true, "SetDismissText": true,
	"SetConfirmText": true, "NewForm": true, "NewEntryWithData": true,
}

// notWords are literals shown as they are in every language: names, and
// examples of what to type.
var notWords = map[string]bool{"hubmirror": true, "Docker": true, "containerd": true, "podman / skopeo": true, "k3s": true, "kind": true,
	"alpine:3.20, ghcr.io/owner/app:1": true}

// use is where a key is used.
type use struct {
	key, where string
}

// pkgValues are a package's top-level constants and variables, by name,
// so that tr(labelStart) and tr(clientTabs[c]) count their literals.
type pkgValues map[string]ast.Expr

// scanRepo parses every non-test Go file of the module and returns the
// keys passed to keyCalls and problemCalls, and in package ui the
// literals passed to fyneCalls without tr.
func scanRepo(t *testing.T) (keys []use, bare []use) {
	t.Helper()
	fset := token.NewFileSet()
	byDir := map[string][]*ast.File{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != repoRoot && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		byDir[filepath.Dir(path)] = append(byDir[filepath.Dir(path)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, files := range byDir {
		values := pkgValues{}
		for _, f := range files {
			collectValues(f, values)
		}
		isUI := filepath.ToSlash(dir) == repoRoot+"/ui"
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				name := calleeName(call.Fun)
				where := fset.Position(call.Pos()).String()
				where = strings.TrimPrefix(filepath.ToSlash(where), repoRoot+"/")
				if keyCalls[name] && len(call.Args) > 0 {
					for _, k := range values.strings(call.Args[0], false, 0) {
						keys = append(keys, use{k, where})
					}
				}
				if i, ok := problemCalls[name]; ok && len(call.Args) > i {
					for _, k := range values.strings(call.Args[i], true, 0) {
						keys = append(keys, use{k, where})
					}
				}
				if isUI && fyneCalls[name] {
					for _, a := range call.Args {
						if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							if strings.IndexFunc(s, unicode.IsLetter) >= 0 && !notWords[s] {
								bare = append(bare, use{s, where + " " + name})
							}
						}
					}
				}
				return true
			})
		}
	}
	return keys, bare
}

// collectValues notes f's top-level constants and variables that have one
// value each.
func collectValues(f *ast.File, values pkgValues) {
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || (g.Tok != token.CONST && g.Tok != token.VAR) {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if len(vs.Names) == len(vs.Values) {
				for i, n := range vs.Names {
					values[n.Name] = vs.Values[i]
				}
			}
		}
	}
}

// calleeName is the name of the function or method called.
func calleeName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

// strings are the keys e stands for: a literal, a concatenation, a
// package constant, an element of a package map or slice literal, a call
// of a key function or fmt.Sprintf. With holes, a part that is none of
// these becomes %s, as the status problems are built; without, e gives
// nothing.
func (v pkgValues) strings(e ast.Expr, holes bool, depth int) []string {
	if depth > 5 {
		return nil
	}
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			s, err := strconv.Unquote(x.Value)
			if err == nil && s != "" {
				return []string{s}
			}
		}
		return nil
	case *ast.ParenExpr:
		return v.strings(x.X, holes, depth+1)
	case *ast.BinaryExpr:
		if x.Op != token.ADD {
			return nil
		}
		l, r := v.strings(x.X, holes, depth+1), v.strings(x.Y, holes, depth+1)
		if holes && len(l) == 0 {
			l = []string{"%s"}
		}
		if holes && len(r) == 0 {
			r = []string{"%s"}
		}
		var out []string
		for _, a := range l {
			for _, b := range r {
				out = append(out, a+b)
			}
		}
		return out
	case *ast.Ident:
		if val, ok := v[x.Name]; ok {
			return v.strings(val, false, depth+1)
		}
	case *ast.IndexExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			if lit, ok := v[id.Name].(*ast.CompositeLit); ok {
				var out []string
				for _, el := range lit.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						el = kv.Value
					}
					out = append(out, v.strings(el, false, depth+1)...)
				}
				return out
			}
		}
	case *ast.CallExpr:
		if name := calleeName(x.Fun); (keyCalls[name] || name == "Sprintf") && len(x.Args) > 0 {
			return v.strings(x.Args[0], false, depth+1)
		}
	}
	return nil
}

// Every key the code uses is in the catalog: the failure lists the missing
// ones as JSON lines to fill in and merge into catalog/zh-Hans.json.
func TestSourceKeysAreInCatalog(t *testing.T) {
	c, err := loaded()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := scanRepo(t)
	if len(keys) < 150 {
		t.Fatalf("the scan found only %d uses of keys: it is broken", len(keys))
	}
	missing := map[string][]string{}
	for _, u := range keys {
		if !c.has(u.key) && hasWords(u.key) && !notWords[u.key] {
			missing[u.key] = append(missing[u.key], u.where)
		}
	}
	if len(missing) == 0 {
		return
	}
	var lines []string
	for k, where := range missing {
		q, _ := jsonString(k)
		lines = append(lines, fmt.Sprintf("  %s: \"\",  // %s", q, strings.Join(where, ", ")))
	}
	sort.Strings(lines)
	t.Errorf("%d keys the code uses have no entry in catalog/zh-Hans.json:\n%s", len(missing), strings.Join(lines, "\n"))
}

// Package ui passes no literal words to Fyne without tr.
func TestUIWordsGoThroughTr(t *testing.T) {
	_, bare := scanRepo(t)
	var lines []string
	for _, u := range bare {
		lines = append(lines, fmt.Sprintf("  %s(%q)", u.where, u.key))
	}
	sort.Strings(lines)
	if len(lines) > 0 {
		t.Errorf("words shown without tr():\n%s", strings.Join(lines, "\n"))
	}
}

// Every key of the catalog is still used somewhere, so that it does not
// collect texts no one shows.
func TestCatalogHasNoUnusedKeys(t *testing.T) {
	c, err := loaded()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := scanRepo(t)
	used := map[string]bool{}
	for _, u := range keys {
		used[u.key] = true
	}
	var unused []string
	for _, k := range c.keys {
		if !used[k] && !keptKeys[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		t.Errorf("catalog keys no code uses: %q", unused)
	}
}

// keptKeys are in the catalog for code other helpers are writing: the
// buttons issue 11 asks every dialog to name with tr.
var keptKeys = map[string]bool{"Cancel": true, "Delete": true, "Discard": true, "Save": true, "Quit": true, "Keep running": true, "OK": true}

// jsonString is s as a JSON string, as the catalog file writes it.
func jsonString(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// The scan itself: the files it reads exist and it sees through the forms
// of key it claims to.
func TestScanSeesKeyForms(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot, "go.mod")); err != nil {
		t.Fatal(err)
	}
	keys, _ := scanRepo(t)
	found := map[string]bool{}
	for _, u := range keys {
		found[u.key] = true
	}
	for _, k := range []string{
		"Start", // tr(labelStart): a constant
		"%s cannot be reached; cached images still pull. Check the network or proxy settings.", // a problem: concatenation
		"%s answers %d; cached images still pull.",                                             // a problem: Sprintf
		"is not host:port (for example 127.0.0.1:5000)",                                        // i18n.Key in settings
	} {
		if !found[k] {
			t.Errorf("the scan does not find %q", k)
		}
	}
}
