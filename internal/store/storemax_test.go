package store

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testBlobSize is the size of the blobs of these tests: store_max is a
// number of them.
const testBlobSize = 1000

// boundedStore is a fake store on a fake clock.
func boundedStore() (*fakeRemote, *fakeClock) {
	clock := newFakeClock()
	f := newFakeRemote()
	f.clock = clock.now
	return f, clock
}

// newBounded is a mirror's cache and blob store in front of remote, with
// store_max max, on clock, with the blobs pinned.
func newBounded(t *testing.T, remote Remote, max int64, clock *fakeClock, pinned ...digest.Digest) *instance {
	t.Helper()
	st := new(Stats)
	log := slog.New(slog.DiscardHandler)
	c := openCache(t, t.TempDir(), Options{Stats: st, Remote: remote, Log: log, StoreMax: max, clock: clock.now, manualTend: true})
	ctx, cancel := context.WithCancel(context.Background())
	b := NewBlobs(ctx, c, BlobsConfig{Log: log, Tuning: testTuning})
	c.SetPinned(pinned)
	b.keeper.tend(ctx) // as when the mirror starts
	t.Cleanup(func() { cancel(); b.Wait() })
	return &instance{c: c, b: b, st: st, cancel: cancel}
}

// seed puts blobs of testBlobSize bytes into the store, each stamped at
// the clock's time less its age, and returns their digests.
func seed(t *testing.T, f *fakeRemote, clock *fakeClock, ages ...time.Duration) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	for i, age := range ages {
		data := pattern(testBlobSize, 100+i)
		d := digest.FromBytes(data)
		clock.add(-age)
		_, err := f.Put(context.Background(), blobKey(d), data, nil)
		clock.add(age)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// inStore reports which of ds the store holds.
func inStore(f *fakeRemote, ds ...digest.Digest) []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []bool
	for _, d := range ds {
		_, ok := f.objects[blobKey(d)]
		out = append(out, ok)
	}
	return out
}

// pullNew pulls a new blob of testBlobSize bytes through in from
// upstream, and waits for its upload.
func pullNew(t *testing.T, in *instance, seed int) digest.Digest {
	t.Helper()
	data := pattern(testBlobSize, seed)
	d := digest.FromBytes(data)
	if got, err := in.pull(t, d, (&fakeUpstream{data: data}).open); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("pull: %d bytes, %v", len(got), err)
	}
	return d
}

// Over store_max, the least recently stamped blobs go first; one stamped
// by another mirror after the listing stays (it is stat'ed again before
// it is deleted).
func TestStoreMaxEvictsLeastRecentlyStamped(t *testing.T) {
	f, clock := boundedStore()
	day := 24 * time.Hour
	// oldest … newest: 4, 3, 2 days ago.
	old := seed(t, f, clock, 3*day, 4*day, 2*day)
	in := newBounded(t, f, 3*testBlobSize, clock)
	if got := in.st.RemoteUsage.Load(); got != 3*testBlobSize {
		t.Errorf("usage after the first listing: %d, want %d", got, 3*testBlobSize)
	}

	first := pullNew(t, in, 1)
	if got, want := inStore(f, old[0], old[1], old[2], first), []bool{true, false, true, true}; !slices.Equal(got, want) {
		t.Fatalf("after one upload the store holds %v, want %v (the oldest gone)", got, want)
	}
	// Another mirror serves old[0] now: its stamp is new, though this
	// mirror's listing is not.
	if _, err := f.SetMeta(context.Background(), blobKey(old[0]), nil); err != nil {
		t.Fatal(err)
	}
	in.b.keeper.mu.Lock()
	in.b.keeper.listedN = listPage + 1 // a large store: not listed before each upload
	in.b.keeper.listedAt = clock.now()
	in.b.keeper.mu.Unlock()
	second := pullNew(t, in, 2)
	if got, want := inStore(f, old[0], old[2], first, second), []bool{true, false, true, true}; !slices.Equal(got, want) {
		t.Fatalf("after two uploads the store holds %v, want %v (the one stamped since the listing kept)", got, want)
	}
	if in.st.RemoteEvicted.Load() != 2 || in.st.RemoteEvictedBytes.Load() != 2*testBlobSize || in.st.RemoteFull.Load() != 0 {
		t.Errorf("evicted %d blobs (%d bytes), %d uploads skipped; want 2 (%d), 0",
			in.st.RemoteEvicted.Load(), in.st.RemoteEvictedBytes.Load(), in.st.RemoteFull.Load(), 2*testBlobSize)
	}
	if got := in.st.RemoteUsage.Load(); got != 3*testBlobSize {
		t.Errorf("usage %d, want %d", got, 3*testBlobSize)
	}
}

// A blob stamped within the grace (25 h) is never evicted: an upload
// that would need it gone is skipped, and the blob stays in the cache
// directory only.
func TestStoreMaxGraceSkipsTheUpload(t *testing.T) {
	f, clock := boundedStore()
	grace := DefaultStoreGrace
	old := seed(t, f, clock, grace+time.Minute, grace-time.Minute, time.Hour)
	in := newBounded(t, f, 3*testBlobSize, clock)

	kept := pullNew(t, in, 1)
	if got, want := inStore(f, old[0], old[1], old[2], kept), []bool{false, true, true, true}; !slices.Equal(got, want) {
		t.Fatalf("store holds %v, want %v: only the blob past the grace evicted", got, want)
	}
	skipped := pullNew(t, in, 2)
	if got, want := inStore(f, old[1], old[2], kept, skipped), []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Fatalf("store holds %v, want %v: the upload skipped, the young blobs kept", got, want)
	}
	if in.st.RemoteFull.Load() != 1 || in.st.RemoteEvicted.Load() != 1 || in.st.RemoteUploads.Load() != 1 {
		t.Errorf("%d uploads skipped, %d evicted, %d uploaded; want 1, 1, 1", in.st.RemoteFull.Load(), in.st.RemoteEvicted.Load(), in.st.RemoteUploads.Load())
	}
	if _, err := os.Stat(in.c.blobPath(skipped)); err != nil {
		t.Errorf("the blob not uploaded is not in the cache directory: %v", err)
	}
	if got := storeBytes(f); got > 3*testBlobSize {
		t.Errorf("the store holds %d bytes of blobs, over store_max %d", got, 3*testBlobSize)
	}

	// A day on, the oldest of them may go.
	clock.add(2 * time.Minute)
	third := pullNew(t, in, 3)
	if got, want := inStore(f, old[1], old[2], kept, third), []bool{false, true, true, true}; !slices.Equal(got, want) {
		t.Fatalf("two minutes on the store holds %v, want %v", got, want)
	}
}

// storeBytes adds up the blobs in f.
func storeBytes(f *fakeRemote) int64 {
	var n int64
	for info, err := range f.List(context.Background(), "blobs/") {
		if err == nil {
			n += info.Size
		}
	}
	return n
}

// Two mirrors' pins hold in either one's eviction, and in PruneStore; a
// pin record older than a week does not.
func TestStoreMaxKeepsEveryMirrorsPins(t *testing.T) {
	f, clock := boundedStore()
	day := 24 * time.Hour
	b := seed(t, f, clock, 5*day, 4*day, 3*day, 3*day)
	pinnedByX, pinnedByY, pinnedLongAgo, free := b[0], b[1], b[2], b[3]

	x := newBounded(t, f, 0, clock, pinnedByX) // no store_max of its own: it still records its pins
	clock.add(-8 * day)
	if _, err := f.Put(context.Background(), pinsDir+"0123456789abcdef.json", []byte(`{"blobs":["`+pinnedLongAgo.String()+`"]}`), nil); err != nil {
		t.Fatal(err)
	}
	clock.add(8 * day)

	newBounded(t, f, testBlobSize, clock, pinnedByY) // evicts as it starts
	if got, want := inStore(f, pinnedByX, pinnedByY, pinnedLongAgo, free), []bool{true, true, false, false}; !slices.Equal(got, want) {
		t.Fatalf("after eviction the store holds %v, want %v (the pins of both mirrors kept)", got, want)
	}

	// PruneStore, with no grace, keeps the pins of both.
	res, err := PruneStore(context.Background(), f, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inStore(f, pinnedByX, pinnedByY), []bool{true, true}; !slices.Equal(got, want) || res.Blobs != 0 || res.Left != 2*testBlobSize {
		t.Errorf("prune: removed %d, %d bytes left, store holds %v; want 0, %d, %v", res.Blobs, res.Left, got, 2*testBlobSize, want)
	}
	// Once X unpins, its record says so, and its blob may go.
	x.c.SetPinned(nil)
	x.b.keeper.tend(context.Background())
	res, err = PruneStore(context.Background(), f, 0, 0)
	if err != nil || res.Blobs != 1 || res.Freed != testBlobSize || res.Left != testBlobSize {
		t.Errorf("prune after unpinning: %+v, %v; want 1 blob of %d freed, %d left", res, err, testBlobSize, testBlobSize)
	}
	if got, want := inStore(f, pinnedByX, pinnedByY), []bool{false, true}; !slices.Equal(got, want) {
		t.Errorf("after unpinning the store holds %v, want %v", got, want)
	}
}

// A broken pin record stops eviction: nothing is deleted.
func TestStoreMaxStopsOnAnUnreadablePinRecord(t *testing.T) {
	f, clock := boundedStore()
	old := seed(t, f, clock, 3*24*time.Hour)
	if _, err := f.Put(context.Background(), pinsDir+"0123456789abcdef.json", []byte("{"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := PruneStore(context.Background(), f, 0, 0); err == nil {
		t.Error("prune with a broken pin record: no error")
	}
	in := newBounded(t, f, 1, clock)
	if inStore(f, old...)[0] != true || in.st.RemoteEvicted.Load() != 0 || in.st.RemoteErrors.Load() != 1 {
		t.Errorf("with a broken pin record: store holds %v, %d evicted, %d errors; want the blob kept, 0, 1",
			inStore(f, old...), in.st.RemoteEvicted.Load(), in.st.RemoteErrors.Load())
	}
}

// A blob served is stamped at most once a day: from the store, then from
// the cache directory, by this mirror or after another mirror stamped it.
func TestStampAtMostOnceADay(t *testing.T) {
	f, clock := boundedStore()
	ds := seed(t, f, clock, 2*24*time.Hour)
	d, data := ds[0], pattern(testBlobSize, 100)
	counted := &statCounter{Remote: f}
	a := newBounded(t, counted, 0, clock)
	serve := func(in *instance) {
		t.Helper()
		if got, err := in.pull(t, d, unreachable); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("serve: %d bytes, %v", len(got), err)
		}
	}
	stamps := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.stamps)
	}

	serve(a) // from the store: its stamp is two days old
	if stamps() != 1 || a.st.RemoteStamps.Load() != 1 {
		t.Fatalf("after a read from the store: %d stamps (%d counted), want 1", stamps(), a.st.RemoteStamps.Load())
	}
	statsBefore := counted.stats.Load()
	serve(a) // from the cache directory, just stamped
	clock.add(23 * time.Hour)
	serve(a)
	if stamps() != 1 || counted.stats.Load() != statsBefore {
		t.Fatalf("%d stamps within a day, want 1; the store asked %d times, want 0", stamps(), counted.stats.Load()-statsBefore)
	}
	b := newBounded(t, f, 0, clock)
	serve(b) // another mirror, from the store: stamped 23 hours ago
	if stamps() != 1 {
		t.Fatalf("%d stamps after another mirror's read within the day, want 1", stamps())
	}
	clock.add(2 * time.Hour)
	serve(a)
	serve(a)
	if stamps() != 2 || a.st.RemoteStamps.Load() != 2 {
		t.Errorf("a day on: %d stamps (%d counted), want 2", stamps(), a.st.RemoteStamps.Load())
	}
	// b knows no newer stamp than 25 hours old: it asks, and finds a's.
	serve(b)
	if stamps() != 2 || b.st.RemoteStamps.Load() != 0 {
		t.Errorf("the second mirror wrote a stamp (%d, %d counted) after the first's of the same day", stamps(), b.st.RemoteStamps.Load())
	}
}

// statCounter counts the Stats of a store of any kind.
type statCounter struct {
	Remote
	stats atomic.Int64
}

func (s *statCounter) Stat(ctx context.Context, key string) (objstore.Info, error) {
	s.stats.Add(1)
	return s.Remote.Stat(ctx, key)
}

// gatedStamps is a store whose SetMeta waits for release.
type gatedStamps struct {
	Remote
	entered chan struct{} // closed when the first SetMeta starts
	release chan struct{}
	once    sync.Once
	done    atomic.Bool // a SetMeta returned
}

func (g *gatedStamps) SetMeta(ctx context.Context, key string, meta map[string]string) (objstore.Info, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	defer g.done.Store(true)
	return g.Remote.SetMeta(ctx, key, meta)
}

// Stamps are written off the client's path, and Wait (so the mirror's
// Stop) waits for them; past the queue's bound they are dropped and
// counted.
func TestStampsQueueAndWait(t *testing.T) {
	f, clock := boundedStore()
	ds := seed(t, f, clock, 2*24*time.Hour)
	g := &gatedStamps{Remote: f, entered: make(chan struct{}), release: make(chan struct{})}
	in := newBounded(t, g, 0, clock)
	// The read from the store returns while its stamp waits.
	got, err := read(t, in.b, ds[0], unreachable)
	if err != nil || len(got) != testBlobSize {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	<-g.entered
	k := in.b.keeper
	old := clock.now().Add(-2 * 24 * time.Hour)
	for i := range stampQueueMax + 2 {
		k.served(digest.FromString(strconv.Itoa(i)), old)
	}
	if n := in.st.RemoteStampsDropped.Load(); n != 2 {
		t.Errorf("%d stamps dropped past a queue of %d, want 2", n, stampQueueMax)
	}
	waited := make(chan bool)
	go func() {
		in.b.Wait()
		waited <- g.done.Load()
	}()
	for range 100 {
		runtime.Gosched() // let Wait run ahead, were it not to wait
	}
	close(g.release)
	if !<-waited {
		t.Error("Wait returned before the stamp was written")
	}
	if in.st.RemoteStamps.Load() != 1 {
		t.Errorf("%d stamps written, want 1 (the others name blobs not in the store)", in.st.RemoteStamps.Load())
	}
}

// An instance id is made once and kept.
func TestInstanceIDIsKept(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, Options{})
	id, err := c.instanceID()
	if err != nil || !validInstanceID(id) {
		t.Fatalf("instance id %q, %v", id, err)
	}
	again, err := c.instanceID()
	if err != nil || again != id {
		t.Errorf("instance id %q the second time, want %q (%v)", again, id, err)
	}
}

// On its own timer, the keeper writes the pin record as soon as SetPinned
// changes the pins, and stops with the blob store.
func TestPinRecordOnItsOwnTimer(t *testing.T) {
	f := newFakeRemote()
	log := slog.New(slog.DiscardHandler)
	c := openCache(t, t.TempDir(), Options{Remote: f, Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	b := NewBlobs(ctx, c, BlobsConfig{Log: log, Tuning: testTuning})
	// Each change of the pins is written at once, by SetPinned itself:
	// the keeper does not poll for it.
	for _, name := range []string{"pinned", "pinned later"} {
		d := digest.FromString(name)
		c.SetPinned([]digest.Digest{d})
		testutil.Eventually(t, "the pin record of "+name+" in the store", func() bool {
			pins, err := readPins(context.Background(), f, time.Now())
			return err == nil && pins[blobKey(d)] && len(pins) == 1
		})
	}
	cancel()
	b.Wait()
	c.pinsChanged() // stopped: does nothing
}

// A blob served from the cache directory that the store lacks (its upload
// was cut by a killed mirror, or it was evicted) is uploaded again, with
// its bytes as the digest names them, when its daily stamp finds it gone.
func TestServedBlobMissingFromTheStoreGoesUpAgain(t *testing.T) {
	f, clock := boundedStore()
	a := newBounded(t, f, 0, clock)
	d := pullNew(t, a, 7)
	a.b.Wait()
	if err := f.Delete(context.Background(), blobKey(d)); err != nil {
		t.Fatal(err)
	}
	uploads := a.st.RemoteUploads.Load()

	clock.add(StampEvery + time.Hour) // the mirror's own stamp is a day old
	if got, err := a.pull(t, d, unreachable); err != nil || len(got) != testBlobSize {
		t.Fatalf("serve from the cache directory: %d bytes, %v", len(got), err)
	}
	a.b.Wait()
	if !inStore(f, d)[0] {
		t.Fatalf("the blob is still missing from the store after it was served")
	}
	if got := a.st.RemoteUploads.Load() - uploads; got != 1 {
		t.Errorf("%d uploads, want 1", got)
	}
	r, err := f.Get(context.Background(), blobKey(d), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := digest.FromReader(r); got != d {
		t.Errorf("the store's copy hashes to %s, want %s", got, d)
	}
}
