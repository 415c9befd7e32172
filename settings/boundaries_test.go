package settings

import (
	"os/exec"
	"strings"
	"testing"
)

// The package boundaries of the house style: only ui imports Fyne, and
// only settings/secrets imports go-keyring.
func TestPackageBoundaries(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"github.com/hubmirror/hubmirror/proxy/...", []string{"fyne.io/", "github.com/zalando/go-keyring"}},
		{"github.com/hubmirror/hubmirror/settings", []string{"fyne.io/", "github.com/zalando/go-keyring"}},
		{"github.com/hubmirror/hubmirror/settings/secrets", []string{"fyne.io/"}},
		{"github.com/hubmirror/hubmirror/assets", []string{"fyne.io/"}},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range tc.forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", tc.pkg, dep)
				}
			}
		}
	}
}
