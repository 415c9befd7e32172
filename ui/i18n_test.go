package ui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

// Every string the UI translates has a Simplified Chinese translation, and
// the translation file has no strings the UI no longer uses.
func TestChineseTranslationIsComplete(t *testing.T) {
	raw, err := os.ReadFile("translations/hubmirror.zh_Hans.json")
	if err != nil {
		t.Fatal(err)
	}
	var zh map[string]string
	if err := json.Unmarshal(raw, &zh); err != nil {
		t.Fatalf("hubmirror.zh_Hans.json: %v", err)
	}
	used := map[string]bool{}
	for _, s := range []string{labelStart, labelStop, labelSettings, labelSetup, labelCache, labelCopy, labelBrowser, labelQuit,
		labelAbout, labelLog,
		windowTitle, authHintText} {
		used[s] = true
	}
	for _, s := range clientTabs {
		used[s] = true
	}
	for _, s := range fieldLabels {
		used[s] = true
	}
	literal := regexp.MustCompile(`tr\("((?:[^"\\]|\\.)*)"\)`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if filepath.Ext(f) != ".go" || len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			used[m[1]] = true
		}
	}
	var missing, unused []string
	for s := range used {
		if zh[s] == "" && s != "Docker" && s != "containerd" && s != "podman / skopeo" && s != "k3s" && s != "kind" {
			missing = append(missing, s)
		}
	}
	for s := range zh {
		if !used[s] {
			unused = append(unused, s)
		}
	}
	sort.Strings(missing)
	sort.Strings(unused)
	if len(missing) > 0 {
		t.Errorf("no Chinese for %q", missing)
	}
	if len(unused) > 0 {
		t.Errorf("hubmirror.zh_Hans.json has unused %q", unused)
	}
	if len(used) < 50 {
		t.Errorf("found only %d translated strings: the scan is broken", len(used))
	}
}
