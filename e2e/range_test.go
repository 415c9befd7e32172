package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// TestBlobRange resumes blob downloads with a Range header, as clients do
// after an interruption, against a mirror that has not seen the blob yet
// (cold) and one that has it cached (warm); the answer must be a 206 with
// the requested bytes.
func TestBlobRange(t *testing.T) {
	const size = 100 << 10
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	data := randomBytes(size, 4)
	blob := hub.AddBlob(data)
	hub.AddImageWithBlobs("library/ranged", "latest", blob)
	client := newHTTPClient(1)
	t.Cleanup(client.CloseIdleConnections)

	tests := []struct {
		name  string
		rng   string
		first int64 // first byte expected
		last  int64 // last byte expected
	}{
		{"open ended", "bytes=1000-", 1000, size - 1},
		{"closed", "bytes=500-1499", 500, 1499},
		{"last byte", fmt.Sprintf("bytes=%d-", size-1), size - 1, size - 1},
	}
	for _, warm := range []bool{false, true} {
		for _, tt := range tests {
			name := "cold/" + tt.name
			if warm {
				name = "warm/" + tt.name
			}
			t.Run(name, func(t *testing.T) {
				m := startMirror(t, hub.URL())
				if warm {
					if err := fetchMirrorBlob(context.Background(), client, m.Addr, "library/ranged", blob.Digest, blob.Size); err != nil {
						t.Fatalf("fill the cache: %v", err)
					}
				}
				req, err := http.NewRequest(http.MethodGet, m.URL("/v2/library/ranged/blobs/"+blob.Digest), nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Range", tt.rng)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("read body: %v", err)
				}
				if resp.StatusCode != http.StatusPartialContent {
					t.Fatalf("Range %s: %s, want 206 Partial Content (body %.200q)", tt.rng, resp.Status, body)
				}
				wantCR := fmt.Sprintf("bytes %d-%d/%d", tt.first, tt.last, size)
				if got := resp.Header.Get("Content-Range"); got != wantCR {
					t.Errorf("Content-Range = %q, want %q", got, wantCR)
				}
				if !bytes.Equal(body, data[tt.first:tt.last+1]) {
					t.Errorf("body is %d bytes, not bytes %d-%d of the blob", len(body), tt.first, tt.last)
				}
			})
		}
	}
}
