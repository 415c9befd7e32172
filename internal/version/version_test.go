package version

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// The version set with -ldflags wins; else the main module's version go
// build recorded; "(devel)" and nothing at all are no version.
func TestChoose(t *testing.T) {
	built := &debug.BuildInfo{Main: debug.Module{Path: "github.com/hubmirror/hubmirror", Version: "v0.0.0-20260101120000-abcdef123456+dirty"}}
	for _, tc := range []struct {
		name, ldflags string
		info          *debug.BuildInfo
		want          string
	}{
		{"-ldflags -X", "1.2.3", built, "1.2.3"},
		{"module version", "", built, "v0.0.0-20260101120000-abcdef123456+dirty"},
		{"devel", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, unknown},
		{"no module version", "", &debug.BuildInfo{}, unknown},
		{"no build info", "", nil, unknown},
	} {
		if got := choose(tc.ldflags, tc.info); got != tc.want {
			t.Errorf("%s: choose = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCommitFromBuildInfo(t *testing.T) {
	for _, tc := range []struct {
		name         string
		info         *debug.BuildInfo
		want         string
		wantModified bool
	}{
		{"no build info", nil, "", false},
		{"built outside a checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}}}, "", false},
		{"clean checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "9845823abc"}, {Key: "vcs.modified", Value: "false"}}}, "9845823abc", false},
		{"local changes", &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "9845823abc"}}}, "9845823abc", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, modified := commitOf(tc.info)
			if got != tc.want || modified != tc.wantModified {
				t.Errorf("commitOf = %q, %v; want %q, %v", got, modified, tc.want, tc.wantModified)
			}
		})
	}
}

// A binary built with -ldflags "-X …/internal/version.version=V" reports
// V: the variable's path and name are what release scripts write.
func TestLdflagsSetTheVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program; not with -short")
	}
	bin := filepath.Join(t.TempDir(), "printversion")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/hubmirror/hubmirror/internal/version.version=9.8.7-test", "./testdata/printversion")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "9.8.7-test" {
		t.Errorf("version %q, want 9.8.7-test", got)
	}
}
