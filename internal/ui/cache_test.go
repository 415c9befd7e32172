package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/mirror"
)

// TestUsageBar: the bar shows the share of the limit used and says it,
// and looks empty at 0 B.
func TestUsageBar(t *testing.T) {
	for _, tc := range []struct {
		usage mirror.CacheUsage
		text  string
		value float64
	}{
		{mirror.CacheUsage{Bytes: 0, Limit: 20e9}, "0 B of 20 GB", 0},
		{mirror.CacheUsage{Bytes: 5e9, Limit: 20e9}, "5.0 GB of 20 GB", 0.25},
		{mirror.CacheUsage{Bytes: 2_400_000, Limit: 20e9}, "2.4 MB of 20 GB", 2.4e6 / 20e9},
		{mirror.CacheUsage{Bytes: 30e9, Limit: 20e9}, "30 GB of 20 GB", 1},
		{mirror.CacheUsage{Bytes: 5e9}, "5.0 GB (no limit set)", 0},
	} {
		text, value := usageBar(tc.usage)
		if text != tc.text || value != tc.value {
			t.Errorf("usageBar(%+v) = %q, %v; want %q, %v", tc.usage, text, value, tc.text, tc.value)
		}
	}

	h := newHarness(t)
	h.b.usage = mirror.CacheUsage{Bytes: 5e9, Limit: 20e9, Blobs: 42}
	h.u.ShowCache()
	v := h.u.cache
	if v.bar.Value != 0.25 || v.bar.TextFormatter() != "5.0 GB of 20 GB" || !strings.Contains(v.usage.Text, "42") {
		t.Errorf("window: bar %v %q, usage %q", v.bar.Value, v.bar.TextFormatter(), v.usage.Text)
	}
}

// TestClearConfirmation: Clear says how much goes and that pinned images
// go too, and its buttons are Cancel and Delete.
func TestClearConfirmation(t *testing.T) {
	h := newHarness(t)
	h.b.usage = mirror.CacheUsage{Bytes: 2_400_000, Limit: 20e9, Blobs: 4}
	h.b.settings.Pinned = []string{"alpine:3.20", "busybox:1"}
	h.u.ShowCache()
	var asked string
	h.u.confirm = func(title, msg string, answer func(bool), _ fyne.Window) { asked = msg; answer(false) }
	test.Tap(h.u.cache.clear)
	h.u.wait()
	if !strings.HasPrefix(asked, "Delete 2.4 MB (4 blobs) from the cache?") || !strings.Contains(asked, "The 2 pinned images go too") {
		t.Errorf("question %q, want the size and the pinned images", asked)
	}
	if slices.Contains(h.b.Calls(), "ClearCache") {
		t.Error("Cancel cleared the cache")
	}
	for _, tc := range []struct {
		pinned int
		want   string
	}{
		{0, "Pulls will download the images again."},
		{1, "The pinned image goes too"},
	} {
		if q := clearQuestion(h.b.usage, tc.pinned); !strings.Contains(q, tc.want) || strings.Contains(q, "pinned images go") {
			t.Errorf("%d pinned: %q, want %q", tc.pinned, q, tc.want)
		}
	}

	// The real dialog's buttons say Cancel and Delete.
	w := test.NewTempWindow(t, widget.NewLabel(""))
	w.Resize(fyne.NewSize(500, 400))
	var answer *bool
	d := newDeleteConfirm("Clear the cache", asked, func(yes bool) { answer = &yes }, w)
	d.Show()
	var buttons []*widget.Button
	for _, o := range test.LaidOutObjects(w.Canvas().Overlays().Top()) {
		if b, ok := o.(*widget.Button); ok {
			buttons = append(buttons, b)
		}
	}
	var labels []string
	for _, b := range buttons {
		labels = append(labels, b.Text)
	}
	if !slices.Equal(labels, []string{"Cancel", "Delete"}) {
		t.Fatalf("buttons %q, want Cancel and Delete", labels)
	}
	if buttons[1].Importance != widget.DangerImportance {
		t.Error("Delete is not red")
	}
	test.Tap(buttons[1])
	if answer == nil || !*answer {
		t.Error("Delete did not answer yes")
	}
}
