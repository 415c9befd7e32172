package clientconf

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
)

// podmanEntries are the podman snippet's tables for a plain-http mirror.
func podmanEntries(t *testing.T, host string) string {
	t.Helper()
	snips, err := clientsetup.Snippets(i18n.English, "podman", host, []string{"docker.io", "ghcr.io"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snips {
		if s.Lang == "toml" {
			return s.Text
		}
	}
	t.Fatal("no registries.conf snippet")
	return ""
}

// userConf is a registries.conf of a user's: comments, top-level keys,
// a registry of their own, no newline at the end of a comment.
const userConf = "# my registries\nunqualified-search-registries = [\"docker.io\", \"quay.io\"]\n\n[[registry]]\n# the office one\nlocation = \"registry.office.lan\"\ninsecure = true\n"

// decoded is what containers/image would read of a registries.conf.
type decoded struct {
	Unqualified []string `toml:"unqualified-search-registries"`
	Registry    []struct {
		Prefix, Location string
		Insecure         bool
		Mirror           []struct {
			Location string
			Insecure bool
		}
	}
}

// Apply keeps the user's part, comments included, and appends the block:
// the mirror's own address insecure, each registry mirrored; a second
// apply changes nothing; undo gives back the original bytes.
func TestApplyPodman(t *testing.T) {
	entries := podmanEntries(t, "127.0.0.1:5000")
	for _, orig := range []string{userConf, "", "# only a comment\n", userConf + "\n\n"} {
		out, err := ApplyPodman([]byte(orig), entries, false)
		if err != nil {
			t.Fatalf("%q: %v", orig, err)
		}
		if !strings.HasPrefix(string(out), orig) {
			t.Errorf("%q: the user's part changed:\n%s", orig, out)
		}
		var got decoded
		if _, err := toml.Decode(string(out), &got); err != nil {
			t.Fatal(err)
		}
		var own, hub bool
		for _, r := range got.Registry {
			own = own || (r.Location == "127.0.0.1:5000" && r.Prefix == "" && r.Insecure)
			hub = hub || (r.Prefix == "docker.io" && len(r.Mirror) == 1 && r.Mirror[0].Location == "127.0.0.1:5000" && r.Mirror[0].Insecure)
		}
		if !own || !hub {
			t.Errorf("%q: the mirror's entries are not all there:\n%s", orig, out)
		}
		again, err := ApplyPodman(out, entries, false)
		if err != nil || string(again) != string(out) {
			t.Errorf("%q: a second apply changed the file: %v", orig, err)
		}
		back, found, made, err := UndoPodman(out)
		if err != nil || !found || made || string(back) != orig {
			t.Errorf("%q: undo gave %v %v %v\n%q", orig, err, found, made, back)
		}
	}
}

// A block from an earlier apply is replaced where it stands, whatever the
// user put after it, and the note that apply made the file stays.
func TestApplyPodmanReplacesTheBlock(t *testing.T) {
	first, err := ApplyPodman(nil, podmanEntries(t, "127.0.0.1:5000"), true)
	if err != nil {
		t.Fatal(err)
	}
	withMore := string(first) + "\n[aliases]\n  \"app\" = \"ghcr.io/me/app\"\n"
	out, err := ApplyPodman([]byte(withMore), podmanEntries(t, "127.0.0.1:5001"), false)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, ":5000") || !strings.Contains(s, ":5001") || strings.Count(s, beginPrefix) != 1 || !strings.HasSuffix(s, "[aliases]\n  \"app\" = \"ghcr.io/me/app\"\n") {
		t.Errorf("not replaced in place:\n%s", s)
	}
	if _, _, made, _ := UndoPodman(out); !made {
		t.Error("the block forgot that apply made the file")
	}
}

// A user's [[registry]] for a prefix the block defines too, a v1 file,
// bad TOML and a broken block are errors naming the line.
func TestApplyPodmanRefuses(t *testing.T) {
	entries := podmanEntries(t, "127.0.0.1:5000")
	dup := userConf + "\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"mirror.gcr.io\"\n"
	own := "[[registry]]\nlocation = \"127.0.0.1:5000\"\n"
	for _, tc := range []struct{ text, want string }{
		{dup, "line 9: [[registry]] \"docker.io\" is already there"},
		{own, "line 1: [[registry]] \"127.0.0.1:5000\" is already there"},
		{"[registries.search]\nregistries = [\"docker.io\"]\n", "line 1: the file uses the old"},
		{"a = 1\nb = \n", "line 2:"},
		{"x = 1\n" + beginLine + "\n[[registry]]\n", "line 2: \"# BEGIN hubmirror\" without \"# END hubmirror\""},
	} {
		if out, err := ApplyPodman([]byte(tc.text), entries, false); err == nil || !strings.Contains(err.Error(), tc.want) || out != nil {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
	// The line is the file's, counted past hubmirror's block.
	out, err := ApplyPodman([]byte(userConf), entries, false)
	if err != nil {
		t.Fatal(err)
	}
	after := string(out) + "\n[[registry]]\nprefix = \"ghcr.io\"\nlocation = \"ghcr.io\"\n"
	line := strings.Count(string(out), "\n") + 2
	if _, err := ApplyPodman([]byte(after), entries, false); err == nil || !strings.Contains(err.Error(), "line "+strconv.Itoa(line)+":") {
		t.Errorf("after the block: %v, want line %d", err, line)
	}
}

// On disk: a new rootless file starts as a copy of the system's, and undo
// removes it while the rest is that copy; a file apply did not make keeps
// its part.
func TestPodmanOnDisk(t *testing.T) {
	dir := t.TempDir()
	system := filepath.Join(dir, "etc", "registries.conf")
	write(t, system, userConf)
	path := filepath.Join(dir, "home", ".config", "containers", "registries.conf")
	entries := podmanEntries(t, "127.0.0.1:5000")
	var d Disk
	ch, err := d.ApplyPodman(path, entries, system)
	if err != nil || ch.Action != Wrote || ch.Seed != system {
		t.Fatal(err, ch)
	}
	if !strings.HasPrefix(read(t, path), userConf) {
		t.Errorf("not a copy of the system file:\n%s", read(t, path))
	}
	if ch, err := d.ApplyPodman(path, entries, system); err != nil || ch.Action != Unchanged {
		t.Errorf("second apply: %v %+v", err, ch)
	}
	if ch, err := d.UndoPodman(path, system); err != nil || ch.Action != Removed || read(t, path) != "<missing>" {
		t.Errorf("undo: %v %+v", err, ch)
	}
	if ch, err := d.UndoPodman(path, system); err != nil || ch.Action != NothingToUndo {
		t.Errorf("undo again: %v %+v", err, ch)
	}
	// A made file the user added to since keeps their part.
	d.ApplyPodman(path, entries, system)
	write(t, path, read(t, path)+"\n# mine\n")
	if ch, err := d.UndoPodman(path, system); err != nil || ch.Action != Wrote || read(t, path) != userConf+"\n# mine\n" {
		t.Errorf("undo after an edit: %v %+v\n%q", err, ch, read(t, path))
	}
}
