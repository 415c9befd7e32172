package cli

import (
	"bytes"
	"os"
	"testing"
)

// A pipe, a file, /dev/null and a buffer are not terminals: no progress
// bar goes into them, and clear does not ask.
func TestNotTerminals(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, s := range map[string]any{"pipe": w, "/dev/null": null, "file": file, "buffer": &bytes.Buffer{}} {
		if isTerminal(s) {
			t.Errorf("%s is taken for a terminal", name)
		}
	}
	e := &env{stdin: null, stdout: &bytes.Buffer{}}
	if confirm(e, "Remove?") || e.stdout.(*bytes.Buffer).Len() != 0 {
		t.Errorf("confirm asked, or said yes, without a terminal: %q", e.stdout)
	}
}

// The bar is 20 characters between brackets whatever it is given.
func TestBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int
		want        string
	}{
		{0, 10, "[                    ]"},
		{5, 10, "[##########          ]"},
		{10, 10, "[####################]"},
		{12, 10, "[####################]"},
		{3, 0, "[####################]"},
	} {
		if got := bar(tc.done, tc.total); got != tc.want {
			t.Errorf("bar(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}
