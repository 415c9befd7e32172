package mirror

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/segfetch"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// Segmented upstream downloads (issue 14): a blob above the threshold is
// fetched over parallel Range requests and streamed to its clients in
// order, verified before its last byte.

// segChunk is the chunk size of the segmenting test mirrors.
const segChunk = 4 << 20

// segSize is a blob just above the default threshold (16 MiB), in five
// chunks, the last one shorter than the others.
const segSize = segfetch.DefaultThreshold + segChunk/4 + 12345

// segChunks is how many Range requests a download of segSize bytes makes.
const segChunks = (segSize + segChunk - 1) / segChunk

// held is where the tests hold a chunk's answer: past the first MiB, so
// clients have their headers and some bytes by then.
const held = 1 << 20

// startSegmenting starts a mirror that fetches large blobs over conns
// connections in chunks of segChunk.
func startSegmenting(t *testing.T, hub *fakehub.Hub, conns int) *testMirror {
	t.Helper()
	return startMirrorCfg(t, hub, func(c *Config) {
		c.DownloadConnections, c.DownloadChunk = conns, segChunk
	})
}

// bigImage puts an image of one layer of n bytes on hub and returns the
// layer's bytes and digest.
func bigImage(hub *fakehub.Hub, repo string, n int) ([]byte, string) {
	data := pattern(n)
	img := hub.AddImage(repo, "1", data)
	return data, img.Layers[0].Digest
}

// openBlob sends a blob GET to the mirror and returns the response once its
// header is in; the caller reads and closes the body.
func (tm *testMirror) openBlob(t *testing.T, repo, d string) *http.Response {
	t.Helper()
	resp, err := http.Get(tm.base + "/v2/" + repo + "/blobs/" + d)
	if err != nil {
		t.Fatalf("GET blob: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET blob: %d %s", resp.StatusCode, b)
	}
	return resp
}

// cdnRanges returns the Range headers of the CDN GETs of d, in order.
func cdnRanges(hub *fakehub.Hub, d string) []string {
	var out []string
	for _, r := range hub.Requests() {
		if r.Server == fakehub.ServerCDN && r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/"+d) {
			out = append(out, r.Header.Get("Range"))
		}
	}
	return out
}

// chunkRanges are the Range headers of a segmented download of size bytes.
func chunkRanges(size, chunk int64) []string {
	var out []string
	for off := int64(0); off < size; off += chunk {
		out = append(out, fmt.Sprintf("bytes=%d-%d", off, min(off+chunk, size)-1))
	}
	return out
}

// A large blob comes over parallel Range requests, each chunk asked for
// once, and the registry only for the first: while the first chunk's
// answer is held, every other chunk arrives over other connections. A client that started the download has the
// bytes before the held one, in order, before the download is done; one
// that joins in the middle gets the whole blob too, and then it is cached.
func TestSegmentedDownload(t *testing.T) {
	hub := newHub(t)
	data, d := bigImage(hub, "library/big", segSize)
	tm := startSegmenting(t, hub, 4)

	reached, release := hub.PauseBlob(d, held)
	defer release()
	early := tm.openBlob(t, "library/big", d)
	defer early.Body.Close()
	await(t, reached, "the first chunk's answer held at 1 MiB")

	// Every chunk after the first is sent while the first one is held:
	// they were fetched at once, over other connections.
	rest := int64(segSize - segChunk + held)
	testutil.Eventually(t, "every chunk but the first sent", func() bool {
		return hub.Counters().CDNBytesByDigest[d] >= rest
	})
	if c := hub.Counters(); c.CDNRangeGets != segChunks || c.Connections[fakehub.ServerCDN] < 2 {
		t.Errorf("while the first chunk is held: %d Range GETs over %d CDN connections, want %d over 2 or more",
			c.CDNRangeGets, c.Connections[fakehub.ServerCDN], segChunks)
	}

	// The bytes before the held one already reach the first client.
	head := make([]byte, held)
	if _, err := io.ReadFull(early.Body, head); err != nil || !bytes.Equal(head, data[:held]) {
		t.Fatalf("the first MiB before the download is done: %v", err)
	}
	late := tm.openBlob(t, "library/big", d)
	if got := late.Header.Get("X-Hubmirror-Cache"); got != string(sourceMiss) {
		t.Errorf("the client that joined is a %q, want a miss that joins the download", got)
	}
	if late.ContentLength != segSize {
		t.Errorf("the joining client's Content-Length %d, want %d", late.ContentLength, segSize)
	}
	release()

	tail, err := readAll(early)
	if err != nil || !bytes.Equal(append(head, tail...), data) {
		t.Errorf("the first client: %d bytes, %v; want the blob", held+len(tail), err)
	}
	if got, err := readAll(late); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the client that joined: %d bytes, %v; want the blob", len(got), err)
	}
	tm.blobs.Wait()
	c := hub.Counters()
	if c.CDNBytesByDigest[d] != segSize || c.CDNGets != segChunks {
		t.Errorf("CDN sent %d bytes in %d GETs, want %d in %d", c.CDNBytesByDigest[d], c.CDNGets, segSize, segChunks)
	}
	if c.BlobGets != 1 {
		t.Errorf("%d registry blob GETs for %d chunks, want 1: the chunks after the first ask the CDN URL it was sent to", c.BlobGets, segChunks)
	}
	if got, want := cdnRanges(hub, d), chunkRanges(segSize, segChunk); !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("Range headers %q, want %q", got, want)
	}
	if got := tm.stats.snapshot().UpstreamBytes; got != segSize {
		t.Errorf("the mirror counted %d upstream bytes, want %d", got, segSize)
	}
	if r := tm.get(t, "/v2/library/big/blobs/"+d); r.header.Get("X-Hubmirror-Cache") != string(sourceHit) || !bytes.Equal(r.body, data) {
		t.Errorf("after the download: %q, %d bytes; want a hit with the blob", r.header.Get("X-Hubmirror-Cache"), len(r.body))
	}
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Chunks cut mid-way are resumed from the byte they got to, not fetched
// again: the CDN sends the blob's bytes once, give or take what was in
// flight when it cut.
func TestSegmentedChunkCutIsResumed(t *testing.T) {
	hub := newHub(t)
	data, d := bigImage(hub, "library/big", segSize)
	tm := startSegmenting(t, hub, 4)
	const cut = 300_000
	hub.DropBlobAfter(cut, 2) // the first chunk's answer and the next one

	r := tm.get(t, "/v2/library/big/blobs/"+d)
	if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
		t.Fatalf("%d, %d bytes; want the blob", r.status, len(r.body))
	}
	tm.blobs.Wait()
	resumed := 0
	for _, rng := range cdnRanges(hub, d) {
		var from, to int64
		if _, err := fmt.Sscanf(rng, "bytes=%d-%d", &from, &to); err == nil && from%segChunk == cut {
			resumed++
		}
	}
	if resumed != 2 {
		t.Errorf("%d chunks resumed from the byte they were cut at, want 2; ranges %q", resumed, cdnRanges(hub, d))
	}
	if sent := hub.Counters().CDNBytesByDigest[d]; float64(sent) > 1.02*segSize {
		t.Errorf("CDN sent %d bytes, more than 1.02× the blob's %d", sent, segSize)
	}
	if !cached(tm, d) {
		t.Errorf("the resumed blob was not cached")
	}
}

// An upstream that ignores Range answers the first request with the whole
// blob, which then comes over that one connection; one that stops
// honouring ranges in the middle has the rest fetched over one connection
// from where the blob was whole.
func TestSegmentedFallsBackWithoutRange(t *testing.T) {
	t.Run("never", func(t *testing.T) {
		hub := newHub(t)
		data, d := bigImage(hub, "library/big", segSize)
		tm := startSegmenting(t, hub, 4)
		hub.SetCDNRange(false)
		if r := tm.get(t, "/v2/library/big/blobs/"+d); r.status != http.StatusOK || !bytes.Equal(r.body, data) {
			t.Fatalf("%d, %d bytes; want the blob", r.status, len(r.body))
		}
		tm.blobs.Wait()
		c := hub.Counters()
		if c.CDNGets != 1 || c.Connections[fakehub.ServerCDN] != 1 || c.CDNBytesByDigest[d] != segSize {
			t.Errorf("%d CDN GETs over %d connections, %d bytes; want 1 over 1, %d bytes",
				c.CDNGets, c.Connections[fakehub.ServerCDN], c.CDNBytesByDigest[d], segSize)
		}
		if !cached(tm, d) {
			t.Errorf("not cached")
		}
	})
	t.Run("from the second chunk", func(t *testing.T) {
		hub := newHub(t)
		data, d := bigImage(hub, "library/big", segSize)
		tm := startSegmenting(t, hub, 4)
		hub.IgnoreRange(1, 1) // the first chunk is a 206, the next request a 200
		if r := tm.get(t, "/v2/library/big/blobs/"+d); r.status != http.StatusOK || !bytes.Equal(r.body, data) {
			t.Fatalf("%d, %d bytes; want the blob", r.status, len(r.body))
		}
		tm.blobs.Wait()
		if !strings.Contains(tm.logs.String(), "goes on over one connection") {
			t.Errorf("no log line says the download went on over one connection")
		}
		// The rest from where the blob was whole: "bytes=N-", or no Range
		// when the first chunk had not got any further than byte 0. Chunks
		// already on their way when the 200 came may be logged after it,
		// so look for it among every request after the first.
		ranges := cdnRanges(hub, d)
		rest := slices.IndexFunc(ranges[1:], func(rng string) bool {
			return rng == "" || (strings.HasPrefix(rng, "bytes=") && strings.HasSuffix(rng, "-"))
		})
		if rest < 0 {
			t.Errorf("CDN requests %q: none asked for the rest of the blob", ranges)
		}
		if !cached(tm, d) {
			t.Errorf("not cached")
		}
	})
}

// An upstream that sends no Content-Length still names the size of a 206
// in its Content-Range: the blob is split all the same. One that ignores
// Range too answers without any size: one connection, to the end.
func TestSegmentedWithoutLength(t *testing.T) {
	for _, rangeOn := range []bool{true, false} {
		t.Run(fmt.Sprintf("range %v", rangeOn), func(t *testing.T) {
			hub := newHub(t)
			data, d := bigImage(hub, "library/big", segSize)
			tm := startSegmenting(t, hub, 4)
			hub.OmitCDNLength(true)
			hub.SetCDNRange(rangeOn)
			resp := tm.openBlob(t, "library/big", d)
			wantLength := int64(-1)
			if rangeOn {
				wantLength = segSize
			}
			if resp.ContentLength != wantLength {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, wantLength)
			}
			if got, err := readAll(resp); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes, %v; want the blob", len(got), err)
			}
			tm.blobs.Wait()
			wantGets := int64(1)
			if rangeOn {
				wantGets = segChunks
			}
			if c := hub.Counters(); c.CDNGets != wantGets || c.CDNBytesByDigest[d] != segSize {
				t.Errorf("%d CDN GETs, %d bytes; want %d, %d", c.CDNGets, c.CDNBytesByDigest[d], wantGets, segSize)
			}
			if !cached(tm, d) {
				t.Errorf("not cached")
			}
		})
	}
}

// A chunk with a wrong byte fails the digest over the whole blob: no
// client gets a complete body (the connection is cut before the last
// byte), nothing is cached, and the next request fetches it again.
func TestSegmentedCorruptChunk(t *testing.T) {
	hub := newHub(t)
	_, d := bigImage(hub, "library/big", segSize)
	tm := startSegmenting(t, hub, 4)
	hub.CorruptBlob(d, 2*segChunk+777)

	for round := range 2 {
		resp := tm.openBlob(t, "library/big", d)
		got, err := readAll(resp)
		if err == nil || len(got) >= segSize {
			t.Fatalf("round %d: %d bytes, %v; want a cut connection before the last byte", round, len(got), err)
		}
		tm.blobs.Wait()
		if cached(tm, d) {
			t.Fatalf("round %d: a blob that does not match its digest was cached", round)
		}
	}
	if c := hub.Counters(); c.CDNGets != 2*segChunks {
		t.Errorf("%d CDN GETs, want %d: each request downloads it again", c.CDNGets, 2*segChunks)
	}
	if !strings.Contains(tm.logs.String(), "blob download failed") {
		t.Errorf("no log line says the download failed")
	}
}

// Sixteen clients of one uncached layer share one segmented download: the
// CDN sends the layer's bytes once.
func TestSegmentedManyClients(t *testing.T) {
	hub := newHub(t)
	data, d := bigImage(hub, "library/big", segSize)
	tm := startSegmenting(t, hub, 4)
	reached, release := hub.PauseBlob(d, held)
	defer release()

	const clients = 16
	resps := make(chan *http.Response, clients)
	errs := make(chan error, clients)
	for range clients {
		go func() {
			resp, err := http.Get(tm.base + "/v2/library/big/blobs/" + d)
			if err != nil {
				errs <- err
				return
			}
			resps <- resp
		}()
	}
	await(t, reached, "the first chunk held")
	var all []*http.Response
	for range clients {
		select {
		case resp := <-resps:
			all = append(all, resp)
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(testutil.Patience):
			t.Fatalf("%d of %d clients have their header while the download is held", len(all), clients)
		}
	}
	release()
	bodies := make(chan error, clients)
	for _, resp := range all {
		go func() {
			got, err := readAll(resp)
			if err == nil && !bytes.Equal(got, data) {
				err = fmt.Errorf("%d bytes, not the blob", len(got))
			}
			bodies <- err
		}()
	}
	for range clients {
		if err := await(t, bodies, "a client's body"); err != nil {
			t.Error(err)
		}
	}
	tm.blobs.Wait()
	if sent := hub.Counters().CDNBytesByDigest[d]; float64(sent) > 1.02*segSize {
		t.Errorf("CDN sent %d bytes for %d clients, more than 1.02× the layer's %d", sent, clients, segSize)
	}
}

// The chunks of a download ask the CDN URL the registry redirected the
// first one to, not the registry: once that URL has expired (and the token
// with it), a chunk refused goes back to the registry, which renews the
// token and sends a fresh URL for the chunks after it.
func TestSegmentedTokenRenewed(t *testing.T) {
	hub := newHub(t)
	hub.SetTokenTTL(time.Minute)
	data, d := bigImage(hub, "library/big", segSize)
	tm := startSegmenting(t, hub, 2)
	firstHeld, releaseFirst := hub.PauseBlob(d, held)
	secondHeld, releaseSecond := hub.PauseBlob(d, segChunk+held)
	defer releaseFirst()
	defer releaseSecond()

	resp := tm.openBlob(t, "library/big", d)
	await(t, firstHeld, "the first chunk held")
	await(t, secondHeld, "the second chunk held")
	before := hub.Counters()
	hub.Advance(fakehub.CDNURLTTL + time.Minute) // every token and signed URL so far has expired
	releaseFirst()
	releaseSecond()
	if got, err := readAll(resp); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v; want the blob\n%s", len(got), err, tm.logs)
	}
	tm.blobs.Wait()
	after := hub.Counters()
	if after.Unauthorized <= before.Unauthorized || after.TokenRequests <= before.TokenRequests {
		t.Errorf("401s %d → %d, token requests %d → %d: the expired token was not renewed",
			before.Unauthorized, after.Unauthorized, before.TokenRequests, after.TokenRequests)
	}
	// Each connection meets the expired URL at most once.
	if after.CDNForbidden < 1 || after.CDNForbidden > 2 {
		t.Errorf("%d CDN requests refused for an expired signed URL, want 1 or 2 (one per connection at most)", after.CDNForbidden)
	}
	// The first chunk's redirect, then a fresh one for each connection
	// that found the URL refused; a connection that starts its next chunk
	// while another is renewing the URL may ask the registry itself
	// without meeting the refusal (seen under -race), but never more than
	// once per connection.
	if after.BlobGets < 1+after.CDNForbidden || after.BlobGets > 1+2 {
		t.Errorf("%d registry blob GETs, want %d to 3: the first chunk's and at most one per connection after the URL expired", after.BlobGets, 1+after.CDNForbidden)
	}
	if after.CDNGets != segChunks {
		t.Errorf("%d CDN GETs, want %d", after.CDNGets, segChunks)
	}
}

// With one connection (the zero Config, or 1) a large blob is one GET
// without a Range, as before segmenting; with segmenting on, a blob above
// a chunk but not above the threshold is two requests in turn, and one
// below a chunk is one.
func TestSegmentingOnlyAboveThreshold(t *testing.T) {
	for _, tc := range []struct {
		name   string
		conns  int
		size   int
		ranges []string
	}{
		{"zero connections", 0, segSize, []string{""}},
		{"one connection", 1, segSize, []string{""}},
		{"below a chunk", 4, segChunk / 2, []string{fmt.Sprintf("bytes=0-%d", segChunk-1)}},
		{"below the threshold", 4, segChunk + 5000, []string{fmt.Sprintf("bytes=0-%d", segChunk-1), fmt.Sprintf("bytes=%d-", segChunk)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := newHub(t)
			data, d := bigImage(hub, "library/big", tc.size)
			tm := startSegmenting(t, hub, tc.conns)
			if r := tm.get(t, "/v2/library/big/blobs/"+d); r.status != http.StatusOK || !bytes.Equal(r.body, data) {
				t.Fatalf("%d, %d bytes; want the blob", r.status, len(r.body))
			}
			tm.blobs.Wait()
			if got := cdnRanges(hub, d); !slices.Equal(got, tc.ranges) {
				t.Errorf("CDN GETs with Range %q, want %q", got, tc.ranges)
			}
			if c := hub.Counters(); c.CDNBytesByDigest[d] != int64(tc.size) {
				t.Errorf("CDN sent %d bytes, want %d", c.CDNBytesByDigest[d], tc.size)
			}
			if strings.Contains(tm.logs.String(), "resuming") {
				t.Errorf("a download resumed:\n%s", tm.logs)
			}
			if !cached(tm, d) {
				t.Errorf("not cached")
			}
		})
	}
}
