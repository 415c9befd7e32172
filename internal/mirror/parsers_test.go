package mirror

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// Table tests for the parsers of client and upstream input: what each
// accepts, what it refuses, and what it makes of hostile input. The fuzz
// targets in fuzz_test.go and below check the same functions' properties
// over inputs nobody thought of.

func TestParseRange(t *testing.T) {
	type result struct {
		from, to    int64
		partial, ok bool
	}
	whole := func(size int64) result { return result{0, size, false, true} }
	refused := result{}
	for _, c := range []struct {
		h    string
		size int64
		want result
	}{
		{"", 10, whole(10)}, // no Range header: the whole blob
		{"bytes=0-", 10, result{0, 10, true, true}},
		{"bytes=0-0", 10, result{0, 1, true, true}},
		{"bytes=2-4", 10, result{2, 5, true, true}},
		{"bytes=9-9", 10, result{9, 10, true, true}},
		{"bytes=9-100", 10, result{9, 10, true, true}}, // the end is clamped
		{"bytes=0-9223372036854775807", 10, result{0, 10, true, true}},
		{"bytes=-3", 10, result{7, 10, true, true}},
		{"bytes=-10", 10, result{0, 10, true, true}},
		{"bytes=-30", 10, result{0, 10, true, true}}, // a suffix longer than the blob is all of it
		{"bytes= 2-4 ", 10, result{2, 5, true, true}},
		{"bytes=0-1,3-4", 10, whole(10)}, // several ranges: the whole blob
		{"items=0-1", 10, whole(10)},     // another unit: ignored
		{"Bytes=0-1", 10, whole(10)},
		{"bytes=10-", 10, refused}, // starts at the end
		{"bytes=11-12", 10, refused},
		{"bytes=5-3", 10, refused},
		{"bytes=-0", 10, refused},
		{"bytes=-1", 0, refused}, // nothing to take a suffix of
		{"bytes=0-", 0, refused},
		{"bytes=", 10, refused},
		{"bytes=-", 10, refused},
		{"bytes=a-b", 10, refused},
		{"bytes=2 - 4", 10, refused},
		{"bytes=--3", 10, refused},
		{"bytes=-9223372036854775808", 10, refused},
		{"bytes=9223372036854775808-", 10, refused}, // overflows int64
		{"bytes=0-9223372036854775808", 10, refused},
		{"bytes=0x1-", 10, refused},
		{"bytes=1e3-", 10000, refused},
	} {
		from, to, partial, ok := parseRange(c.h, c.size)
		if got := (result{from, to, partial, ok}); got != c.want {
			t.Errorf("parseRange(%q, %d) = %+v, want %+v", c.h, c.size, got, c.want)
		}
	}
}

func TestPullScope(t *testing.T) {
	for _, c := range []struct {
		scope, name string
		ok          bool
	}{
		{"repository:library/alpine:pull", "library/alpine", true},
		{"repository:alpine:pull", "alpine", true},
		{"repository:a:push,pull", "a", true},
		{"repository:a:pull,push", "a", true},
		{"repository:a:*", "a", true},
		{"repository:a:pull,", "a", true},
		{"repository:ghcr.io/owner/img:pull", "ghcr.io/owner/img", true},
		{"repository:a:push", "", false},
		{"repository:a:delete", "", false},
		{"repository:a:", "", false},
		{"repository:a:PULL", "", false},
		{"repository:a: pull", "", false},
		{"repository:a", "", false},
		{"repository::pull", "", false},
		{"repository:A:pull", "", false},
		{"repository:a:b:pull", "", false}, // "a:b" is no repository name
		{"repository:../etc:pull", "", false},
		{"repository:a/../b:pull", "", false},
		{"repository:/a:pull", "", false},
		{"repository:" + strings.Repeat("a", 256) + ":pull", "", false},
		{"registry:catalog:*", "", false},
		{"Repository:a:pull", "", false},
		{" repository:a:pull", "", false},
		{"", "", false},
	} {
		name, ok := pullScope(c.scope)
		if name != c.name || ok != c.ok {
			t.Errorf("pullScope(%q) = %q, %v; want %q, %v", c.scope, name, ok, c.name, c.ok)
		}
	}
}

// FuzzParseRangeBuilt builds well-formed single ranges and checks that
// parseRange gives the bytes RFC 9110 says they select: a first-last range
// is clamped to the blob, a suffix range is the last bytes, and a range
// that starts past the end is refused.
func FuzzParseRangeBuilt(f *testing.F) {
	for _, s := range []struct {
		first, last int64
		form        uint8
		size        int64
	}{
		{0, 0, 0, 10}, {2, 4, 0, 10}, {9, 100, 0, 10}, {10, 20, 0, 10}, {0, 0, 1, 10}, {5, 0, 1, 10},
		{0, 3, 2, 10}, {0, 30, 2, 10}, {0, 1, 2, 0}, {0, math.MaxInt64, 0, 10}, {math.MaxInt64 - 1, 0, 1, math.MaxInt64},
	} {
		f.Add(s.first, s.last, s.form, s.size)
	}
	f.Fuzz(func(t *testing.T, first, last int64, form uint8, size int64) {
		if first < 0 || last < 0 || size < 0 {
			return // not a well-formed range, or not a blob
		}
		var h string
		var wantFrom, wantTo int64
		var wantOK bool
		switch form % 3 {
		case 0: // bytes=first-last
			h = fmt.Sprintf("bytes=%d-%d", first, last)
			wantOK = first <= last && first < size
			wantFrom, wantTo = first, min(last, size-1)+1
		case 1: // bytes=first-
			h = fmt.Sprintf("bytes=%d-", first)
			wantOK = first < size
			wantFrom, wantTo = first, size
		default: // bytes=-suffix, the suffix in last
			h = fmt.Sprintf("bytes=-%d", last)
			wantOK = last > 0 && size > 0
			wantFrom, wantTo = max(size-last, 0), size
		}
		from, to, partial, ok := parseRange(h, size)
		if ok != wantOK {
			t.Fatalf("parseRange(%q, %d): ok %v, want %v", h, size, ok, wantOK)
		}
		if !ok {
			return
		}
		if !partial || from != wantFrom || to != wantTo {
			t.Fatalf("parseRange(%q, %d) = [%d, %d) partial %v, want [%d, %d)", h, size, from, to, partial, wantFrom, wantTo)
		}
		if from < 0 || from >= to || to > size {
			t.Fatalf("parseRange(%q, %d) = [%d, %d): outside the blob", h, size, from, to)
		}
	})
}
