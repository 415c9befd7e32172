package mirror

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// A client that joins a download upstream has paused gets the bytes that
// are in at once: the blob handler's recorder passes the store's flush on
// to the connection (without it, a joined client saw nothing until its
// response buffer filled, or the stall timeout cut the download).
func TestJoinedClientGetsBytesWhileUpstreamPauses(t *testing.T) {
	hub := newHub(t)
	data, d := bigImage(hub, "library/paused", 300_000)
	const at = 200
	reached, release := hub.PauseBlob(d, at)
	defer release()
	tm := startMirror(t, hub)

	// The first client starts the download (in a goroutine: without the
	// flush its header too waits for upstream).
	go func() {
		if resp, err := http.Get(tm.base + "/v2/library/paused/blobs/" + d); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	await(t, reached, "upstream paused at byte 200")
	// The header and the first bytes, in a goroutine: without the flush
	// even the header waits for upstream.
	var joined *http.Response
	got := make(chan []byte, 1)
	go func() {
		resp, err := http.Get(tm.base + "/v2/library/paused/blobs/" + d)
		if err != nil {
			got <- nil
			return
		}
		joined = resp
		b := make([]byte, at)
		n, _ := io.ReadFull(resp.Body, b)
		got <- b[:n]
	}()
	if b := await(t, got, "the joined client's first 200 bytes while upstream pauses"); !bytes.Equal(b, data[:at]) {
		t.Fatalf("joined client got %d bytes, want the blob's first %d", len(b), at)
	}
	defer joined.Body.Close()
	release()
	rest, err := io.ReadAll(joined.Body)
	if err != nil || !bytes.Equal(rest, data[at:]) {
		t.Errorf("the rest: %d bytes, %v", len(rest), err)
	}
}
