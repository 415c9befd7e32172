package store

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/hubmirror/hubmirror/internal/objstore"
	"github.com/hubmirror/hubmirror/internal/oci"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// statCounting is a real store that counts its Stats.
type statCounting struct {
	*objstore.Store
	stats atomic.Int64
}

func (s *statCounting) Stat(ctx context.Context, key string) (objstore.Info, error) {
	s.stats.Add(1)
	return s.Store.Stat(ctx, key)
}

// fetchURL GETs u with an optional Range and returns the status and body.
func fetchURL(t *testing.T, u string, rng string) (int, []byte) {
	t.Helper()
	return testutil.Get(t, nil, u, "Range", rng)
}

// A blob the store holds gets a presigned URL the store answers with the
// blob, whole or a range of it, valid for the ttl asked; the store is
// asked once a minute at most; a blob the store lacks gets none.
func TestStoreLinksSignBlobsTheStoreHolds(t *testing.T) {
	s := newTestStore(t)
	data := pattern(300_000, 21)
	d := digest.FromBytes(data)
	a := newInstance(t, s, 0, BlobsConfig{})
	if _, err := a.pull(t, d, (&fakeUpstream{data: data}).open); err != nil {
		t.Fatal(err)
	}

	counted := &statCounting{Store: s.Store}
	b := newInstance(t, counted, 0, BlobsConfig{})
	links := b.b.StoreLinks()
	if links == nil {
		t.Fatal("no StoreLinks for a store that signs URLs")
	}
	now := time.Now()
	links.now = func() time.Time { return now }
	ctx := context.Background()
	u, ok := links.URL(ctx, d, 10*time.Minute)
	if !ok {
		t.Fatal("no URL for a blob the store holds")
	}
	if got := u.Query().Get("X-Amz-Expires"); got != "600" {
		t.Errorf("the URL is valid for %q s, want 600", got)
	}
	if st, body := fetchURL(t, u.String(), ""); st != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("GET of the presigned URL: %d, %d bytes; want 200 and the blob", st, len(body))
	}
	if st, body := fetchURL(t, u.String(), "bytes=1000-1999"); st != http.StatusPartialContent || !bytes.Equal(body, data[1000:2000]) {
		t.Errorf("ranged GET of the presigned URL: %d, %d bytes; want 206 and the range", st, len(body))
	}
	if b.st.UpstreamBytes.Load() != 0 || b.st.RemoteBytes.Load() != 0 {
		t.Errorf("the instance read %d bytes from upstream and %d from the store, want none", b.st.UpstreamBytes.Load(), b.st.RemoteBytes.Load())
	}

	if _, ok := links.URL(ctx, d, 10*time.Minute); !ok {
		t.Fatal("no URL the second time")
	}
	if n := counted.stats.Load(); n != 1 {
		t.Errorf("two URLs within a minute asked the store %d times, want 1", n)
	}
	now = now.Add(heldFor)
	if _, ok := links.URL(ctx, d, 10*time.Minute); !ok {
		t.Fatal("no URL a minute later")
	}
	if n := counted.stats.Load(); n != 2 {
		t.Errorf("a URL a minute later: the store was asked %d times in all, want 2", n)
	}

	missing := digest.FromBytes(pattern(1000, 22))
	if u, ok := links.URL(ctx, missing, 10*time.Minute); ok || u != nil {
		t.Errorf("a blob the store lacks got a URL")
	}
}

// undeletable is a real store whose Delete fails, so that a damaged
// object stays in it.
type undeletable struct{ *objstore.Store }

func (undeletable) Delete(context.Context, string) error { return errStoreDown }

// A blob whose store object this mirror found damaged is not redirected
// to, though the store was seen to hold it a moment before, and though
// the damaged version is still there.
func TestStoreLinksSkipDamagedBlobs(t *testing.T) {
	s := newTestStore(t)
	data := pattern(200_000, 23)
	d := digest.FromBytes(data)
	a := newInstance(t, s, 0, BlobsConfig{})
	if _, err := a.pull(t, d, (&fakeUpstream{data: data}).open); err != nil {
		t.Fatal(err)
	}
	b := newInstance(t, undeletable{s.Store}, 0, BlobsConfig{})
	links := b.b.StoreLinks()
	ctx := context.Background()
	if _, ok := links.URL(ctx, d, time.Minute); !ok {
		t.Fatal("no URL for a blob the store holds")
	}
	bad := append([]byte(nil), data...)
	bad[10] ^= 0xff
	s.overwrite(t, blobKey(d), bad)
	if _, err := b.pull(t, d, unreachable); !errors.Is(err, oci.ErrDigestMismatch) {
		t.Fatalf("reading the damaged object: %v, want a digest mismatch", err)
	}
	if s.object(t, blobKey(d)) == nil {
		t.Fatal("the damaged object was deleted: the test needs it in the store")
	}
	if u, ok := links.URL(ctx, d, time.Minute); ok || u != nil {
		t.Errorf("a blob found damaged in the store still got a URL")
	}
	// What another mirror may do meanwhile: put the right bytes back.
	s.overwrite(t, blobKey(d), data)
	if _, ok := links.URL(ctx, d, time.Minute); !ok {
		t.Errorf("no URL once the store holds the right bytes again")
	}
}

// Without a store, or with one that cannot sign URLs, there are no
// links, and a nil *StoreLinks hands out no URL.
func TestStoreLinksNeedASigningStore(t *testing.T) {
	none := newInstance(t, nil, 0, BlobsConfig{})
	if l := none.b.StoreLinks(); l != nil {
		t.Errorf("StoreLinks without a store: %v, want nil", l)
	}
	fake := newInstance(t, newFakeRemote(), 0, BlobsConfig{})
	l := fake.b.StoreLinks()
	if l != nil {
		t.Errorf("StoreLinks of a store that cannot sign: %v, want nil", l)
	}
	if u, ok := l.URL(context.Background(), digest.FromString("x"), time.Minute); ok || u != nil {
		t.Errorf("a nil StoreLinks gave a URL")
	}
}

// signingFake is a fake store that signs URLs.
type signingFake struct{ *fakeRemote }

func (s signingFake) PresignGet(_ context.Context, key string, _ time.Duration) (*url.URL, error) {
	return url.Parse("https://store.example/" + key + "?X-Amz-Signature=x")
}

// A blob clients are redirected to is in use: it is stamped as a served
// one is, so store_max evicts a colder blob before it.
func TestRedirectedBlobsAreStamped(t *testing.T) {
	f, clock := boundedStore()
	ds := seed(t, f, clock, 3*24*time.Hour, 2*24*time.Hour) // ds[0]: redirected to; ds[1]: colder since
	in := newBounded(t, signingFake{f}, 2*testBlobSize, clock)
	links := in.b.StoreLinks()
	links.now = clock.now
	for range 3 {
		if _, ok := links.URL(context.Background(), ds[0], 10*time.Minute); !ok {
			t.Fatal("no URL for a blob the store holds")
		}
		clock.add(time.Hour)
	}
	in.b.Wait()
	if got := in.st.RemoteStamps.Load(); got != 1 {
		t.Errorf("%d stamps after three redirects within a day, want 1", got)
	}
	pullNew(t, in, 7) // over store_max: one blob must go
	in.b.Wait()
	if got := inStore(f, ds...); !got[0] || got[1] {
		t.Errorf("in the store after an upload over store_max: redirected %v, colder %v; want the colder one evicted", got[0], got[1])
	}
}
