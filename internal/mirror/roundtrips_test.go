package mirror

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// Fewer round trips to upstream (issue 14): each test counts the requests
// or connections the fake hub saw.

// 16 clients asking at once for a tag that moved upstream since it was
// cached make one HEAD and one GET of the new manifest: the revalidation
// and the fetch that follows are both shared.
func TestConcurrentPullsOfAMovedTag(t *testing.T) {
	const clients = 16
	hub := newHub(t)
	old := hub.AddImage("library/alpine", "latest", []byte("old rootfs"))
	tm, gate := startGated(t, hub, clients, nil)
	tm.pull(t, "alpine", old)
	moved := hub.AddImage("library/alpine", "latest", []byte("new rootfs"))
	hub.ResetCounters()

	gate.armed.Store(true)
	replies := getManifestsAtOnce(tm, "alpine", "latest", clients)
	gate.awaitClients(t, clients)
	close(gate.opened)
	for range clients {
		r := await(t, replies, "a reply")
		if r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != moved.Digest || string(r.body) != string(moved.Manifest) {
			t.Errorf("reply %d digest %s, want the moved tag's %s", r.status, r.header.Get("Docker-Content-Digest"), moved.Digest)
		}
	}
	c := hub.Counters()
	t.Logf("%d concurrent GETs of a moved tag: %d manifest HEADs, %d manifest GETs upstream", clients, c.ManifestHeads, c.ManifestGets)
	if c.ManifestHeads != 1 || c.ManifestGets != 1 {
		t.Errorf("%d manifest HEADs and %d GETs upstream for %d concurrent pulls of a moved tag, want 1 and 1",
			c.ManifestHeads, c.ManifestGets, clients)
	}
}

// A token is fetched once per scope and reused: blobs GET at once by a
// mirror that never talked to upstream yet, then a whole pull, take one
// token; another repository takes one more.
func TestTokenFetchedOncePerScope(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", distinctLayers(8, 1000)...)
	other := hub.AddImage("library/busybox", "latest", []byte("busybox"))
	tm := startMirror(t, hub)

	done := make(chan reply, len(img.Layers))
	for _, l := range img.Layers {
		go func() {
			resp, err := http.Get(tm.base + "/v2/alpine/blobs/" + l.Digest)
			if err != nil {
				done <- reply{}
				return
			}
			body, _ := readAll(resp)
			done <- reply{status: resp.StatusCode, body: body}
		}()
	}
	for range img.Layers {
		if r := await(t, done, "a blob"); r.status != http.StatusOK {
			t.Fatalf("blob: %d", r.status)
		}
	}
	tm.pull(t, "alpine", img)
	if c := hub.Counters(); c.TokenRequests != 1 {
		t.Errorf("%d token requests for %d concurrent blob GETs and a pull of one repository, want 1", c.TokenRequests, len(img.Layers))
	}
	tm.pull(t, "busybox", other)
	if c := hub.Counters(); c.TokenRequests != 2 {
		t.Errorf("%d token requests after a second repository, want 2", c.TokenRequests)
	}
}

// The upstream client keeps connections alive: a pull of a six-layer
// image, one request after another and then with blobs fetched ahead,
// opens a few connections per server, not one per request.
func TestUpstreamConnectionsKeptAlive(t *testing.T) {
	for _, ahead := range []int{0, 3} {
		t.Run(fmt.Sprintf("ahead=%d", ahead), func(t *testing.T) {
			hub := newHub(t)
			img := hub.AddImage("library/six", "latest", distinctLayers(6, 64<<10)...)
			tm := startAhead(t, hub, ahead, nil) // the production Transport
			tm.pull(t, "six", img)
			if ahead > 0 {
				tm.ends.wait(t, 1, imageBlobs(img)...)
			}
			c := hub.Counters()
			reqs := map[string]int{}
			for _, r := range hub.Requests() {
				reqs[r.Server]++
			}
			t.Logf("requests %v, connections %v", reqs, c.Connections)
			for _, server := range []string{fakehub.ServerRegistry, fakehub.ServerAuth, fakehub.ServerCDN} {
				if n := c.Connections[server]; n < 1 || n > int64(ahead+1) {
					t.Errorf("%s: %d connections for %d requests, want 1 to %d", server, n, reqs[server], ahead+1)
				}
			}
		})
	}
}
