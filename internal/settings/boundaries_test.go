package settings

import (
	"os/exec"
	"strings"
	"testing"
)

// The module's package boundaries, checked in one place: only ui imports
// Fyne, and not its app or drivers (so ui tests run with CGO_ENABLED=0 and
// no display; main picks the driver); only settings/secrets imports
// go-keyring; assets stays free of Fyne for headless commands.
func TestPackageBoundaries(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"github.com/hubmirror/hubmirror/internal/mirror/...", []string{"fyne.io/", "github.com/zalando/go-keyring"}},
		{"github.com/hubmirror/hubmirror/internal/settings", []string{"fyne.io/", "github.com/zalando/go-keyring"}},
		{"github.com/hubmirror/hubmirror/internal/settings/secrets", []string{"fyne.io/"}},
		{"github.com/hubmirror/hubmirror/assets", []string{"fyne.io/"}},
		{"github.com/hubmirror/hubmirror/internal/ui", []string{"fyne.io/fyne/v2/app", "fyne.io/fyne/v2/internal/driver/",
			"github.com/go-gl/", "fyne.io/systray", "github.com/zalando/go-keyring"}},
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
