package identity

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestFyneAppTOML: FyneApp.toml, which `fyne package` reads, names the app
// with the same ID and name as the code.
func TestFyneAppTOML(t *testing.T) {
	f, err := os.Open("../../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	details := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok && section == "Details" {
			details[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if details["ID"] != AppID {
		t.Errorf("FyneApp.toml's ID is %q, the code's AppID %q", details["ID"], AppID)
	}
	if details["Name"] != Name {
		t.Errorf("FyneApp.toml's Name is %q, the code's Name %q", details["Name"], Name)
	}
}

// TestAppIDIsReverseDNS: the ID is valid as a D-Bus well-known name and a
// freedesktop application ID (at least two dot-separated elements of
// letters, digits, "_" and "-", none starting with a digit; at most 255
// characters), and so as a .desktop file name and a macOS bundle ID.
func TestAppIDIsReverseDNS(t *testing.T) {
	element := regexp.MustCompile(`^[A-Za-z_-][A-Za-z0-9_-]*$`)
	parts := strings.Split(AppID, ".")
	if len(parts) < 2 || len(AppID) > 255 {
		t.Fatalf("AppID %q is not a reverse-DNS name", AppID)
	}
	for _, p := range parts {
		if !element.MatchString(p) {
			t.Errorf("AppID %q: element %q", AppID, p)
		}
	}
}
