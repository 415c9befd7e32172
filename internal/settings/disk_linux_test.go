package settings

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// On a small disk the default cache_max fits in what the disk can give
// (the old floor of 5 GiB filled it), counting what the cache holds.
func TestDefaultCacheMaxFitsTheDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", dir).CombinedOutput(); err != nil {
		msg := "mounting a tmpfs needs root: " + strings.TrimSpace(string(out))
		if os.Getenv("HUBMIRROR_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	empty := DefaultCacheMax(dir)
	if empty <= 0 || empty > 64<<20*9/10 {
		t.Errorf("default on an empty 64 MiB disk: %d bytes", empty)
	}
	// 20 MiB already cached count as room the cache has.
	if err := os.WriteFile(filepath.Join(dir, "blob"), make([]byte, 20<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := DefaultCacheMax(dir); got < 20<<20 || got > 64<<20 {
		t.Errorf("default with 20 MiB cached on a 64 MiB disk: %d bytes", got)
	}
}
