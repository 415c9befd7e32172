package settings

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The download settings: absent means the defaults, values out of range
// are refused with a message naming the field and the range, and
// --download-connections overrides the file.
func TestDownloadSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "settings.json")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{}`)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.DownloadConnectionsOrDefault() != 4 || s.DownloadChunkBytes() != 8<<20 || s.PrefetchLayersOrDefault() != 3 {
		t.Errorf("defaults = %d connections, %d chunk, %d ahead; want 4, 8 MiB, 3",
			s.DownloadConnectionsOrDefault(), s.DownloadChunkBytes(), s.PrefetchLayersOrDefault())
	}

	write(`{"download_connections": 1, "download_chunk": "16MiB", "prefetch_layers": 0}`)
	if s, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if s.DownloadConnectionsOrDefault() != 1 || s.DownloadChunkBytes() != 16<<20 || s.PrefetchLayersOrDefault() != 0 {
		t.Errorf("set = %d, %d, %d; want 1, 16 MiB, 0 (an explicit 0 turns fetching ahead off)",
			s.DownloadConnectionsOrDefault(), s.DownloadChunkBytes(), s.PrefetchLayersOrDefault())
	}

	for _, tc := range []struct{ body, want string }{
		{`{"download_connections": 0}`, `"download_connections": "0" must be 1 to 16`},
		{`{"download_connections": 17}`, `"download_connections": "17" must be 1 to 16`},
		{`{"download_connections": "4"}`, `"download_connections" must be a whole number`},
		{`{"download_chunk": "8 furlongs"}`, `"download_chunk"`},
		{`{"download_chunk": "4KiB"}`, `must be 1MiB to 1GiB`},
		{`{"prefetch_layers": -1}`, `"prefetch_layers": "-1" must be 0 to 16`},
	} {
		write(tc.body)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.body, err, tc.want)
		}
	}

	write(`{"download_connections": 2}`)
	var f Flags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--config", path, "--download-connections", "8"}); err != nil {
		t.Fatal(err)
	}
	if s, _, err = f.Load(); err != nil || s.DownloadConnectionsOrDefault() != 8 {
		t.Errorf("--download-connections 8 over a file with 2: %d, %v", s.DownloadConnectionsOrDefault(), err)
	}
	if err := fs.Parse([]string{"--download-connections", "many"}); err == nil {
		t.Error("--download-connections many was accepted")
	}
	f = Flags{}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{"--config", path, "--download-connections", "99"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "download_connections") {
		t.Errorf("--download-connections 99: %v, want an error naming download_connections", err)
	}
}
