package e2e

import (
	"math/rand/v2"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// randomBytes returns n bytes from a ChaCha8 stream seeded by seed.
func randomBytes(n int, seed byte) []byte {
	var s [32]byte
	s[0] = seed
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b) // never fails
	return b
}

// TestSecondPullServedFromCache pulls one image twice through the same
// mirror, with the same or another client, and checks that the second pull
// fetched no blob from upstream: neither the fake hub nor the mirror's own
// hubmirror_upstream_bytes_total saw the layer again.
func TestSecondPullServedFromCache(t *testing.T) {
	const layerSize = 256 << 10 // random, so gzip cannot shrink it
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	img := hub.AddOCIImage("library/cached", "1",
		fakehub.Layer(map[string]string{"random.bin": string(randomBytes(layerSize, 1))}),
		fakehub.Layer(map[string]string{"etc/hostname": "cached\n"}),
	)
	ref := "library/cached:1"

	type puller func(t *testing.T, addr string)
	skopeoPull := func(t *testing.T, addr string) {
		lc := readLayout(t, newSkopeo(t).copyToLayout(t, addr+"/"+ref, false))
		if !sameSet(lc.Layers, layerDigests(img)) {
			t.Fatalf("skopeo layers = %v, want %v", lc.Layers, layerDigests(img))
		}
	}
	cranePull := func(t *testing.T, addr string) {
		tc := readTarball(t, newCrane(t).pull(t, addr+"/"+ref, "tarball"))
		if !sameSet(tc.Layers, layerDigests(img)) {
			t.Fatalf("crane layers = %v, want %v", tc.Layers, layerDigests(img))
		}
	}
	tests := []struct {
		name          string
		first, second puller
	}{
		{"skopeo then skopeo", skopeoPull, skopeoPull},
		{"crane then crane", cranePull, cranePull},
		{"skopeo then crane", skopeoPull, cranePull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := startMirror(t, hub.URL())
			before := hub.Counters()
			tt.first(t, m.Addr)
			afterFirst := hub.Counters()
			bytesFirst, err := m.upstreamBytes()
			if err != nil {
				t.Fatal(err)
			}
			if afterFirst.CDNGets == before.CDNGets {
				t.Fatalf("first pull fetched nothing from the CDN; is the fake hub counting?")
			}
			if bytesFirst < layerSize {
				t.Errorf("hubmirror_upstream_bytes_total = %.0f after a cold pull, want >= %d (the random layer)", bytesFirst, layerSize)
			}

			tt.second(t, m.Addr)
			afterSecond := hub.Counters()
			bytesSecond, err := m.upstreamBytes()
			if err != nil {
				t.Fatal(err)
			}
			if n := afterSecond.CDNGets - afterFirst.CDNGets; n != 0 {
				t.Errorf("second pull made %d upstream CDN GETs, want 0", n)
			}
			if n := afterSecond.BlobGets - afterFirst.BlobGets; n != 0 {
				t.Errorf("second pull made %d upstream blob GETs, want 0", n)
			}
			if d := bytesSecond - bytesFirst; d >= layerSize {
				t.Errorf("hubmirror_upstream_bytes_total grew by %.0f during the second pull, want < %d", d, layerSize)
			}
			if r := afterSecond.CDNAuthRejected; r != 0 {
				t.Errorf("the CDN rejected %d requests carrying Authorization", r)
			}
		})
	}
}
