package objstore

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSetMetaMovesLastModified checks what the store's eviction (package
// store, storemax.go) builds on: a SetMeta gives the object a new
// last-modified time, and List reports it, so a blob's last-modified time
// is its last-use stamp.
func TestSetMetaMovesLastModified(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	put, err := s.PutAtomic(ctx, "blobs/x", strings.NewReader("content"), 7, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// S3 keeps last-modified times to the second.
	time.Sleep(1100 * time.Millisecond)
	stamped, err := s.SetMeta(ctx, "blobs/x", map[string]string{"used": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if !stamped.LastModified.After(put.LastModified) {
		t.Errorf("SetMeta left the last-modified time at %v (put at %v)", stamped.LastModified, put.LastModified)
	}
	var listed []Info
	for i, err := range s.List(ctx, "blobs/") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, i)
	}
	if len(listed) != 1 || !listed[0].LastModified.Equal(stamped.LastModified) || listed[0].Size != 7 {
		t.Errorf("List: %+v, want blobs/x of 7 bytes modified at %v", listed, stamped.LastModified)
	}
}
