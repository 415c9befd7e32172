package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hubmirror/hubmirror/internal/oci"
)

// A mirror with an empty cache directory serves a tag another mirror
// cached, offline, from the store: the tag record, the manifest and its
// blobs are read through, checked and kept in its own directory.
func TestStoreServesACachedTagOffline(t *testing.T) {
	s := newTestStore(t)
	a := newInstance(t, s, 0, BlobsConfig{})
	layer := pattern(150_000, 20)
	cfgData := fmt.Appendf(nil, `{"architecture":"amd64","layer":%q}`, digest.FromBytes(layer))
	for _, data := range [][]byte{layer, cfgData} {
		if _, err := a.pull(t, digest.FromBytes(data), (&fakeUpstream{data: data}).open); err != nil {
			t.Fatal(err)
		}
	}
	m := v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: oci.MediaTypeDockerManifest,
		Config: v1.Descriptor{MediaType: "application/vnd.docker.container.image.v1+json", Digest: digest.FromBytes(cfgData), Size: int64(len(cfgData))},
		Layers: []v1.Descriptor{{MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Digest: digest.FromBytes(layer), Size: int64(len(layer))}},
	}
	raw, _ := json.Marshal(m)
	man := Manifest{MediaType: oci.MediaTypeDockerManifest, Data: raw, Digest: digest.FromBytes(raw)}
	if err := a.c.PutManifest(man); err != nil {
		t.Fatal(err)
	}
	// An uppercase tag and a registry with a port: the key is the
	// directory's name for them.
	const registry, repo, tag = "registry.example:5000", "team/app", "V1.2"
	if err := a.c.RecordTag(registry, repo, tag, man); err != nil {
		t.Fatal(err)
	}
	a.c.records.flush()
	if a.st.RemoteRecordWrites.Load() != 2 || a.st.RemoteErrors.Load() != 0 {
		t.Errorf("first mirror: record writes %d, store errors %d", a.st.RemoteRecordWrites.Load(), a.st.RemoteErrors.Load())
	}

	b := newInstance(t, s, 0, BlobsConfig{})
	rec, err := b.c.ReadTag(registry, repo, tag)
	if err != nil || len(rec.Entries) != 1 || rec.Entries[0].Digest != man.Digest {
		t.Fatalf("tag record read through: %+v, %v", rec, err)
	}
	got, err := b.c.GetManifest(rec.Newest()[0].Digest)
	if err != nil || !bytes.Equal(got.Data, raw) || got.MediaType != man.MediaType {
		t.Fatalf("manifest read through: %v", err)
	}
	refs, _ := oci.ManifestRefs(got.Data)
	for _, d := range oci.Digests(refs.Blobs) {
		if _, err := b.pull(t, d, unreachable); err != nil {
			t.Fatalf("blob %s offline: %v", d, err)
		}
	}
	if b.st.RemoteRecordReads.Load() != 2 || b.st.RemoteHits.Load() != 2 || b.st.UpstreamBytes.Load() != 0 {
		t.Errorf("second mirror: record reads %d, blob hits %d, upstream bytes %d", b.st.RemoteRecordReads.Load(), b.st.RemoteHits.Load(), b.st.UpstreamBytes.Load())
	}
	// Kept: the second mirror has the tag, the manifest and the blobs in
	// its directory, and lists the image, whole.
	for _, p := range []string{b.c.tagPath(registry, repo, tag), b.c.manifestPath(man.Digest), b.c.blobPath(digest.FromBytes(layer)), b.c.blobPath(digest.FromBytes(cfgData))} {
		if !exists(p) {
			t.Errorf("not kept: %s", p)
		}
	}
	imgs, err := b.c.Images()
	if err != nil || len(imgs) != 1 || !imgs[0].Complete || imgs[0].Tag != tag || imgs[0].Registry != registry || imgs[0].Repo != repo {
		t.Errorf("second mirror lists %+v, %v", imgs, err)
	}
	// Nothing was written back: the second mirror only read.
	b.c.records.flush()
	if b.st.RemoteRecordWrites.Load() != 0 {
		t.Errorf("second mirror wrote %d records", b.st.RemoteRecordWrites.Load())
	}
}

// A damaged manifest in the store is refused, not kept, and deleted.
func TestStoreDamagedManifestIsRefused(t *testing.T) {
	s := newTestStore(t)
	raw := []byte(`{"schemaVersion":2}`)
	d := digest.FromBytes(raw)
	s.overwrite(t, manifestKey(d), manifestBytes(v1.MediaTypeImageManifest, []byte(`{"schemaVersion":3}`)))
	in := newInstance(t, s, 0, BlobsConfig{})
	if _, err := in.c.GetManifest(d); err == nil {
		t.Fatal("a damaged manifest from the store was served")
	}
	if exists(in.c.manifestPath(d)) || in.st.RemoteDamaged.Load() != 1 {
		t.Errorf("kept %v, damaged %d", exists(in.c.manifestPath(d)), in.st.RemoteDamaged.Load())
	}
	if s.object(t, manifestKey(d)) != nil {
		t.Errorf("the damaged manifest is still in the store")
	}
}

// Two mirrors that record one tag keep each other's entries: per media
// type the one seen last wins, in the store and, after a write, in each
// mirror's directory; an older entry never replaces a newer one.
func TestStoreTagRecordsMerge(t *testing.T) {
	s := newTestStore(t)
	a := newInstance(t, s, 0, BlobsConfig{})
	b := newInstance(t, s, 0, BlobsConfig{})
	const reg, repo, tag = "docker.io", "library/alpine", "3"
	record := func(in *instance, mediaType, name string) {
		t.Helper()
		if err := in.c.RecordTag(reg, repo, tag, Manifest{MediaType: mediaType, Digest: digest.FromString(name)}); err != nil {
			t.Fatal(err)
		}
		in.c.records.flush()
	}
	entries := func(rec TagRecord) map[string]digest.Digest {
		out := map[string]digest.Digest{}
		for _, e := range rec.Entries {
			out[e.MediaType] = e.Digest
		}
		return out
	}
	inStore := func() map[string]digest.Digest {
		t.Helper()
		var rec TagRecord
		if err := json.Unmarshal(s.object(t, tagKey(reg, repo, tag)), &rec); err != nil {
			t.Fatal(err)
		}
		return entries(rec)
	}
	index, list := v1.MediaTypeImageIndex, oci.MediaTypeDockerManifestList
	record(a, index, "a1")
	record(b, list, "b1") // b's directory has no record yet: it writes only list
	if got := inStore(); len(got) != 2 || got[index] != digest.FromString("a1") || got[list] != digest.FromString("b1") {
		t.Fatalf("store after two writers: %v", got)
	}
	if rec, _ := b.c.readTagLocal(reg, repo, tag); entries(rec)[index] != digest.FromString("a1") {
		t.Errorf("the writer did not bring the other's entry home: %v", entries(rec))
	}
	record(a, index, "a2")
	// b's directory still says a1 for index, seen before a2: writing list
	// again must not bring a1 back.
	record(b, list, "b2")
	if got := inStore(); got[index] != digest.FromString("a2") || got[list] != digest.FromString("b2") {
		t.Errorf("store after newer entries: %v", got)
	}
	if rec, _ := b.c.readTagLocal(reg, repo, tag); entries(rec)[index] != digest.FromString("a2") {
		t.Errorf("b's directory: %v", entries(rec))
	}
}

// mergeTags keeps, per media type, the entry seen last, a's on a tie.
func TestMergeTags(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := func(mt, d string, at time.Duration) TagEntry {
		return TagEntry{MediaType: mt, Digest: digest.FromString(d), Seen: t0.Add(at)}
	}
	a := TagRecord{Entries: []TagEntry{e("x", "a-x", 2), e("y", "a-y", 1), e("w", "a-w", 1)}}
	b := TagRecord{Entries: []TagEntry{e("y", "b-y", 3), e("z", "b-z", 1), e("x", "b-x", 1), e("w", "b-w", 1)}}
	got := mergeTags(a, b)
	want := TagRecord{Entries: []TagEntry{e("x", "a-x", 2), e("y", "b-y", 3), e("w", "a-w", 1), e("z", "b-z", 1)}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("mergeTags =\n%v, want\n%v", got, want)
	}
	if !sameTags(got, TagRecord{Entries: []TagEntry{want.Entries[3], want.Entries[1], want.Entries[0], want.Entries[2]}}) || sameTags(got, a) {
		t.Errorf("sameTags")
	}
}

// A store that cannot be reached costs nothing but its counters: the
// blob comes from upstream, the records stay in the directory.
func TestStoreUnreachable(t *testing.T) {
	f := newFakeRemote()
	f.fail = errStoreDown
	in := newInstance(t, f, 0, BlobsConfig{})
	data := pattern(50_000, 30)
	up := &fakeUpstream{data: data}
	if got, err := in.pull(t, digest.FromBytes(data), up.open); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if len(up.requests()) != 1 || in.st.RemoteErrors.Load() != 1 || in.st.RemoteUploadFailures.Load() != 1 {
		t.Errorf("upstream requests %v, store errors %d, upload failures %d", up.requests(), in.st.RemoteErrors.Load(), in.st.RemoteUploadFailures.Load())
	}
	m := Manifest{MediaType: v1.MediaTypeImageManifest, Data: []byte(`{}`), Digest: digest.FromString(`{}`)}
	if err := in.c.PutManifest(m); err != nil {
		t.Fatal(err)
	}
	in.c.records.flush()
	if got, err := in.c.GetManifest(m.Digest); err != nil || !bytes.Equal(got.Data, m.Data) {
		t.Errorf("manifest: %v", err)
	}
	// Misses here and in an unreachable store are misses, as without one.
	if _, err := in.c.GetManifest(digest.FromString("other")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("manifest miss: %v, want not exist", err)
	}
	if _, err := in.c.ReadTag("docker.io", "library/a", "1"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tag miss: %v, want not exist", err)
	}
	if in.st.RemoteErrors.Load() != 4 {
		t.Errorf("store errors %d, want 4", in.st.RemoteErrors.Load())
	}
}

// A read from the store that fails halfway sends the rest of the
// download upstream, from the byte it got to.
func TestStoreReadFailsHalfway(t *testing.T) {
	f := newFakeRemote()
	data := pattern(80_000, 31)
	d := digest.FromBytes(data)
	f.objects[blobKey(d)] = data
	f.cutAfter = 30_000
	in := newInstance(t, f, 0, BlobsConfig{})
	up := &fakeUpstream{data: data}
	if got, err := in.pull(t, d, up.open); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if r := up.requests(); len(r) != 1 || r[0] != 30_000 {
		t.Errorf("upstream requests from %v, want [30000]", r)
	}
	if in.st.RemoteBytes.Load() != 30_000 || in.st.UpstreamBytes.Load() != 50_000 || in.st.RemoteHits.Load() != 0 {
		t.Errorf("store bytes %d, upstream bytes %d, hits %d", in.st.RemoteBytes.Load(), in.st.UpstreamBytes.Load(), in.st.RemoteHits.Load())
	}
}

// The store gets manifests and tag records in the order they were
// written here; a record written again while it waits takes its place at
// the end, so the manifests written before it go first.
func TestStoreRecordsInOrder(t *testing.T) {
	f := newFakeRemote()
	gate := make(chan struct{})
	f.gate = gate
	in := newInstance(t, f, 0, BlobsConfig{})
	man := func(s string) Manifest {
		data := []byte(`{"n":"` + s + `"}`)
		return Manifest{MediaType: v1.MediaTypeImageManifest, Data: data, Digest: digest.FromBytes(data)}
	}
	m1, m2, m3 := man("1"), man("2"), man("3")
	put := func(m Manifest) {
		t.Helper()
		if err := in.c.PutManifest(m); err != nil {
			t.Fatal(err)
		}
	}
	tag := func(m Manifest) {
		t.Helper()
		if err := in.c.RecordTag("docker.io", "library/a", "1", m); err != nil {
			t.Fatal(err)
		}
	}
	put(m1) // the writer takes it and waits at the gate
	for in.c.records.waitingLen() != 0 {
		runtime.Gosched()
	}
	tag(m1)
	put(m2)
	tag(m2) // to the end: after m2
	put(m3)
	close(gate)
	in.c.records.flush()
	want := []string{manifestKey(m1.Digest), manifestKey(m2.Digest), tagKey("docker.io", "library/a", "1"), manifestKey(m3.Digest)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fmt.Sprint(f.writes) != fmt.Sprint(want) {
		t.Errorf("written in the order\n%v, want\n%v", f.writes, want)
	}
}

// A damaged blob in the store that cannot be deleted is not read again:
// the next download goes upstream.
func TestStoreDamagedObjectNotDeleted(t *testing.T) {
	f := newFakeRemote()
	f.failDelete = true
	data := pattern(40_000, 32)
	d := digest.FromBytes(data)
	f.objects[blobKey(d)] = pattern(40_000, 33)
	in := newInstance(t, f, 0, BlobsConfig{})
	up := &fakeUpstream{data: data}
	if _, err := in.pull(t, d, up.open); err == nil {
		t.Fatal("the damaged object was served")
	}
	if got, err := in.pull(t, d, up.open); err != nil || !bytes.Equal(got, data) || len(up.requests()) != 1 {
		t.Errorf("next read: %d bytes, %v, upstream requests %v", len(got), err, up.requests())
	}
	if in.st.RemoteErrors.Load() != 1 || in.st.RemoteDamaged.Load() != 1 {
		t.Errorf("store errors %d, damaged %d", in.st.RemoteErrors.Load(), in.st.RemoteDamaged.Load())
	}
}

// Close writes what still waits for the store before it returns.
func TestStoreCloseDrains(t *testing.T) {
	f := newFakeRemote()
	gate := make(chan struct{})
	f.gate = gate
	c, err := Open(t.TempDir(), Options{Remote: f, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m := Manifest{MediaType: v1.MediaTypeImageManifest, Data: []byte(`{"a":1}`), Digest: digest.FromString(`{"a":1}`)}
	if err := c.PutManifest(m); err != nil {
		t.Fatal(err)
	}
	if err := c.RecordTag("docker.io", "library/a", "1", m); err != nil {
		t.Fatal(err)
	}
	// The first write waits at the gate until Close has begun.
	q := c.records
	go func() {
		for {
			q.mu.Lock()
			closing := q.closing
			q.mu.Unlock()
			if closing {
				close(gate)
				return
			}
			runtime.Gosched()
		}
	}()
	c.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []string{manifestKey(m.Digest), tagKey("docker.io", "library/a", "1")}; fmt.Sprint(f.writes) != fmt.Sprint(want) {
		t.Errorf("written before Close returned: %v, want %v", f.writes, want)
	}
}
