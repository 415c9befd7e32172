package fakehub_test

import (
	"bytes"
	"net/http"
	"testing"
)

// The fault switches added for the mirror's tests do what they say, and
// turn off again.
func TestManifestFaultSwitches(t *testing.T) {
	h := newHub(t)
	img := h.AddImage("library/app", "1", []byte("layer"))
	tok := bearer(t, h, "library/app")
	get := func(method, ref string) reply {
		return send(t, http.DefaultClient, method, manifestURL(h, "library/app", ref), "Authorization", tok)
	}

	h.CorruptManifests(true)
	r := get(http.MethodGet, img.Digest)
	if r.status != http.StatusOK || bytes.Equal(r.body, img.Manifest) || len(r.body) != len(img.Manifest) ||
		r.header.Get("Docker-Content-Digest") != img.Digest {
		t.Errorf("corrupt GET: %d, %d bytes, digest %q", r.status, len(r.body), r.header.Get("Docker-Content-Digest"))
	}
	if sha(r.body) == img.Digest {
		t.Errorf("corrupt GET: the bytes still match the digest")
	}
	h.CorruptManifests(false)
	if r := get(http.MethodGet, "1"); !bytes.Equal(r.body, img.Manifest) {
		t.Errorf("after CorruptManifests(false): other bytes")
	}

	h.OmitHeadDigest(true)
	if r := get(http.MethodHead, "1"); r.status != http.StatusOK || r.header.Get("Docker-Content-Digest") != "" {
		t.Errorf("HEAD without digest: %d %q", r.status, r.header.Get("Docker-Content-Digest"))
	}
	if r := get(http.MethodGet, "1"); r.header.Get("Docker-Content-Digest") != img.Digest {
		t.Errorf("GET while HEADs omit the digest: %q", r.header.Get("Docker-Content-Digest"))
	}
	h.OmitHeadDigest(false)
	if r := get(http.MethodHead, "1"); r.header.Get("Docker-Content-Digest") != img.Digest {
		t.Errorf("after OmitHeadDigest(false): %q", r.header.Get("Docker-Content-Digest"))
	}
}

func TestCDNFaultSwitches(t *testing.T) {
	data := pattern(100_000)
	h, b := hubWithBlob(t, blobSources[0].add, data)

	h.ShiftRange(-1000, 1)
	r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), "Range", "bytes=60000-")
	if r.status != http.StatusPartialContent || r.header.Get("Content-Range") != "bytes 59000-99999/100000" || !bytes.Equal(r.body, data[59000:]) {
		t.Errorf("shifted range: %d %q, %d bytes", r.status, r.header.Get("Content-Range"), len(r.body))
	}
	r = send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest), "Range", "bytes=60000-")
	if r.header.Get("Content-Range") != "bytes 60000-99999/100000" || !bytes.Equal(r.body, data[60000:]) {
		t.Errorf("second range, shift used up: %q", r.header.Get("Content-Range"))
	}

	for _, code := range []int{http.StatusForbidden, http.StatusInternalServerError} {
		h.SetCDNStatus(code)
		if r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest)); r.status != code {
			t.Errorf("SetCDNStatus(%d): %d", code, r.status)
		}
	}
	h.SetCDNStatus(0)

	h.SetCDNDown(true)
	if resp, err := http.Get(cdnURL(t, h, "library/blob", b.Digest)); err == nil {
		resp.Body.Close()
		t.Errorf("CDN down: answered %d", resp.StatusCode)
	}
	h.SetCDNDown(false)
	if r := send(t, http.DefaultClient, http.MethodGet, cdnURL(t, h, "library/blob", b.Digest)); r.status != http.StatusOK || !bytes.Equal(r.body, data) {
		t.Errorf("after the switches are off: %d, %d bytes", r.status, len(r.body))
	}
}
