package clientconf

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
)

// local is the mirror as the native engine's snippet names it; lan is one
// on another machine over plain http, which also needs insecure-registries.
var (
	local = Docker{Mirror: "http://127.0.0.1:5000"}
	lan   = Docker{Mirror: "http://mirror.lan:5000", Insecure: "mirror.lan:5000"}
)

// daemonFiles are daemon.json files as people write them: indented by
// four, two or a tab, on one line, empty, with mirrors of their own, with
// the mirror already in the list but not first.
var daemonFiles = map[string]string{
	"four spaces":   "{\n    \"log-level\": \"warn\",\n    \"registry-mirrors\": [\n        \"https://mirror.gcr.io\"\n    ],\n    \"debug\": true\n}\n",
	"two spaces":    "{\n  \"data-root\": \"/srv/docker\",\n  \"features\": {\"buildkit\": true},\n  \"insecure-registries\": [\"10.0.0.5:5000\"]\n}\n",
	"tabs":          "{\n\t\"registry-mirrors\": [\"https://a.example\", \"https://b.example\"],\n\t\"max-concurrent-downloads\": 10\n}",
	"one line":      `{"log-driver":"json-file","log-opts":{"max-size":"10m"},"registry-mirrors":[]}`,
	"empty":         "{}\n",
	"spaced":        "{ \"dns\" : [ \"1.1.1.1\" ] }\n",
	"has it second": "{\n  \"registry-mirrors\": [\n    \"https://mirror.gcr.io\",\n    \"http://127.0.0.1:5000\",\n    \"http://mirror.lan:5000\"\n  ]\n}\n",
	"has it last":   "{\"registry-mirrors\": [\"https://a.example\", \"http://127.0.0.1:5000\", \"http://mirror.lan:5000/\"]}\n",
}

// members decodes data's top-level object as key → raw value, and its keys
// in file order.
func members(t *testing.T, data []byte) (map[string]string, []string) {
	t.Helper()
	o, err := parseObject(data)
	if err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, data)
	}
	vals := map[string]string{}
	var keys []string
	for _, m := range o.members {
		vals[m.key] = string(data[m.value.start:m.value.end])
		keys = append(keys, m.key)
	}
	if !json.Valid(data) {
		t.Fatalf("not valid JSON:\n%s", data)
	}
	return vals, keys
}

// strs decodes a JSON list of strings ("" for none).
func strs(t *testing.T, raw string) []string {
	t.Helper()
	if raw == "" {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("not a list of strings: %s", raw)
	}
	return out
}

// Apply keeps every other key, value (byte for byte) and their order,
// puts the mirror first and keeps every other mirror in its order, adds
// the insecure host only when asked; a second apply changes nothing; undo
// gives back the original bytes.
func TestApplyDockerKeepsEverythingElse(t *testing.T) {
	for name, orig := range daemonFiles {
		for _, want := range []Docker{local, lan} {
			out, rec, err := ApplyDocker([]byte(orig), want)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			before, beforeKeys := members(t, []byte(orig))
			after, afterKeys := members(t, out)
			if !slices.Equal(afterKeys[:len(beforeKeys)], beforeKeys) {
				t.Errorf("%s: keys %v became %v", name, beforeKeys, afterKeys)
			}
			for k, v := range before {
				if k != mirrorsKey && k != insecureKey && after[k] != v {
					t.Errorf("%s: %s was %s, is %s", name, k, v, after[k])
				}
			}
			oldMirrors := slices.DeleteFunc(strs(t, before[mirrorsKey]), func(m string) bool { return sameMirror(m, want.Mirror) })
			if got := strs(t, after[mirrorsKey]); len(got) == 0 || !sameMirror(got[0], want.Mirror) || !slices.Equal(got[1:], oldMirrors) {
				t.Errorf("%s: mirrors %v, want %s then %v", name, got, want.Mirror, oldMirrors)
			}
			insecure := strs(t, after[insecureKey])
			if want.Insecure != "" && !slices.Contains(insecure, want.Insecure) {
				t.Errorf("%s: insecure-registries %v lacks %s", name, insecure, want.Insecure)
			}
			if want.Insecure == "" && !slices.Equal(insecure, strs(t, before[insecureKey])) {
				t.Errorf("%s: insecure-registries changed: %v", name, insecure)
			}
			again, rec2, err := ApplyDocker(out, want)
			if err != nil || string(again) != string(out) || !rec2.Empty() {
				t.Errorf("%s: a second apply changed the file (%v, %+v):\n%s\n%s", name, err, rec2, out, again)
			}
			back, gone, err := UndoDocker(out, rec)
			if err != nil || gone || string(back) != orig {
				t.Errorf("%s %+v: undo gave (%v, gone %v)\n%q\nnot\n%q", name, want, err, gone, back, orig)
			}
		}
	}
}

// The layout of what Apply adds follows the file's: a new line with the
// file's indent, or the same line for a one-line file.
func TestApplyDockerFollowsLayout(t *testing.T) {
	out, _, err := ApplyDocker([]byte(daemonFiles["four spaces"]), lan)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n    \"log-level\": \"warn\",\n    \"registry-mirrors\": [\n        \"http://mirror.lan:5000\",\n        \"https://mirror.gcr.io\"\n    ],\n    \"debug\": true,\n    \"insecure-registries\": [\"mirror.lan:5000\"]\n}\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	out, _, err = ApplyDocker([]byte(`{"debug":true}`), local)
	if err != nil || string(out) != `{"debug":true, "registry-mirrors": ["http://127.0.0.1:5000"]}` {
		t.Errorf("one line: %v %s", err, out)
	}
}

// A mirror already first, with its host already insecure, is left alone:
// the same bytes come back and the record says nothing was changed, so
// that undo takes nothing the user had.
func TestApplyDockerAlreadyThere(t *testing.T) {
	orig := "{\"insecure-registries\": [\"mirror.lan:5000\"], \"registry-mirrors\": [\"http://mirror.lan:5000/\"]}"
	out, rec, err := ApplyDocker([]byte(orig), lan)
	if err != nil || string(out) != orig || !rec.Empty() {
		t.Errorf("got %v %+v\n%s", err, rec, out)
	}
}

// A missing or blank file becomes a daemon.json with only the mirror,
// and undo says the file should go.
func TestApplyDockerNewFile(t *testing.T) {
	for _, old := range []string{"", " \n"} {
		out, rec, err := ApplyDocker([]byte(old), lan)
		if err != nil || !rec.MadeFile {
			t.Fatalf("%q: %v %+v", old, err, rec)
		}
		want := "{\n  \"registry-mirrors\": [\"http://mirror.lan:5000\"],\n  \"insecure-registries\": [\"mirror.lan:5000\"]\n}\n"
		if string(out) != want {
			t.Errorf("%q: got\n%s", old, out)
		}
		if back, gone, err := UndoDocker(out, rec); err != nil || !gone || back != nil {
			t.Errorf("%q: undo %v %v %q", old, err, gone, back)
		}
	}
}

// When the user changed the file after apply (another key, another
// mirror, a value), undo takes out only the mirror and host apply added,
// and the keys it made once they are empty.
func TestUndoDockerKeepsUserChangesSince(t *testing.T) {
	orig := "{\n  \"debug\": false\n}\n"
	out, rec, err := ApplyDocker([]byte(orig), lan)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(out), `"debug": false`, `"debug": true, "dns": ["9.9.9.9"]`, 1)
	edited = strings.Replace(edited, `["http://mirror.lan:5000"]`, `["http://mirror.lan:5000", "https://mine.example"]`, 1)
	back, gone, err := UndoDocker([]byte(edited), rec)
	if err != nil || gone {
		t.Fatal(err, gone)
	}
	vals, keys := members(t, back)
	if !slices.Equal(keys, []string{"debug", "dns", mirrorsKey}) {
		t.Errorf("keys %v\n%s", keys, back)
	}
	if vals["debug"] != "true" || !slices.Equal(strs(t, vals[mirrorsKey]), []string{"https://mine.example"}) {
		t.Errorf("the user's changes are gone:\n%s", back)
	}
	// A user who removed the mirror by hand leaves undo nothing to do.
	if again, _, err := UndoDocker(back, rec); err != nil || string(again) != string(back) {
		t.Errorf("undo twice: %v\n%s", err, again)
	}
}

// A mirror that was in the list, not first, goes back where it was.
func TestUndoDockerPutsAMovedMirrorBack(t *testing.T) {
	orig := daemonFiles["has it second"]
	out, rec, err := ApplyDocker([]byte(orig), local)
	if err != nil || rec.MirrorWas != 1 || rec.MadeMirrors {
		t.Fatalf("%v %+v", err, rec)
	}
	edited := strings.Replace(string(out), "\"http://mirror.lan:5000\"", "\"http://mirror.lan:5000\",\n    \"https://new.example\"", 1)
	back, _, err := UndoDocker([]byte(edited), rec)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := members(t, back)
	if got := strs(t, vals[mirrorsKey]); !slices.Equal(got, []string{"https://mirror.gcr.io", "http://127.0.0.1:5000", "http://mirror.lan:5000", "https://new.example"}) {
		t.Errorf("mirrors %v", got)
	}
}

// Bad JSON, or keys of the wrong kind, are errors that name the line.
func TestApplyDockerBadInput(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"{\n  \"debug\": true,\n  // a comment\n}\n", "line 3:"},
		{"{\n  \"debug\": true,\n", "line 3:"},
		{"[\"registry-mirrors\"]", "line 1: the file is not a JSON object"},
		{"{\n\"registry-mirrors\": \"http://x\"}", "line 2: \"registry-mirrors\" is not a list of strings"},
		{"{\"registry-mirrors\": [1]}", "is not a list of strings"},
		{"{\"insecure-registries\": {}}", "\"insecure-registries\" is not a list of strings"},
		{"{\"a\": 1,\n\"a\": 2}", "line 2: \"a\" appears twice"},
		{"{} {}", "there is more after the JSON object"},
	} {
		out, _, err := ApplyDocker([]byte(tc.text), lan)
		if err == nil || !strings.Contains(err.Error(), tc.want) || out != nil {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}

// DockerFromSnippet reads what proxy/setup prints for each engine, so
// that --apply writes the same mirror and insecure host.
func TestDockerFromSnippet(t *testing.T) {
	for _, tc := range []struct {
		host   string
		engine clientsetup.Engine
		want   Docker
	}{
		{"0.0.0.0:5000", clientsetup.NativeEngine, Docker{Mirror: "http://127.0.0.1:5000"}},
		{"127.0.0.1:5000", clientsetup.VMEngine, Docker{Mirror: "http://host.docker.internal:5000", Insecure: "host.docker.internal:5000"}},
		{"mirror.lan:5001", clientsetup.NativeEngine, Docker{Mirror: "http://mirror.lan:5001", Insecure: "mirror.lan:5001"}},
	} {
		snips, err := clientsetup.Snippets(i18n.English, "docker", tc.host, []string{"docker.io"})
		if err != nil {
			t.Fatal(err)
		}
		var got Docker
		for _, s := range clientsetup.ForEngine(snips, tc.engine) {
			if s.Lang == "json" {
				if got, err = DockerFromSnippet(s.Text); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s %v: %+v, want %+v", tc.host, tc.engine, got, tc.want)
		}
	}
	if _, err := DockerFromSnippet(`{"registry-mirrors": []}`); err == nil {
		t.Error("a snippet with no mirror: no error")
	}
}
