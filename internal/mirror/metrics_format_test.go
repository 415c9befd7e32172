package mirror

import (
	"bytes"
	"net/http"
	"sort"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricFamilies is every family /metrics writes, with its type. A family
// added to writePrometheus must be added here, so that its type is checked.
var metricFamilies = map[string]dto.MetricType{
	"hubmirror_requests_total":               dto.MetricType_COUNTER,
	"hubmirror_cache_hits_total":             dto.MetricType_COUNTER,
	"hubmirror_cache_misses_total":           dto.MetricType_COUNTER,
	"hubmirror_offline_serves_total":         dto.MetricType_COUNTER,
	"hubmirror_served_bytes_total":           dto.MetricType_COUNTER,
	"hubmirror_upstream_bytes_total":         dto.MetricType_COUNTER,
	"hubmirror_upstream_requests_total":      dto.MetricType_COUNTER,
	"hubmirror_cache_damaged_blobs_total":    dto.MetricType_COUNTER,
	"hubmirror_uncached_streams_total":       dto.MetricType_COUNTER,
	"hubmirror_fetch_ahead_blobs_total":      dto.MetricType_COUNTER,
	"hubmirror_fetch_ahead_joined_total":     dto.MetricType_COUNTER,
	"hubmirror_fetch_ahead_dropped_total":    dto.MetricType_COUNTER,
	"hubmirror_downloads_in_flight":          dto.MetricType_GAUGE,
	"hubmirror_cache_bytes":                  dto.MetricType_GAUGE,
	"hubmirror_upstream_ratelimit_remaining": dto.MetricType_GAUGE,
}

// TestMetricsFormat reads /metrics with the Prometheus project's own text
// parser, so that a mistake in the hand-written format (a sample before its
// TYPE, a bad label, a repeated family) fails here and not in a user's
// Prometheus. An image is pulled first so that the labelled families have
// samples.
func TestMetricsFormat(t *testing.T) {
	hub := newHub(t)
	img := hub.AddImage("library/alpine", "latest", pattern(1000))
	tm := startMirror(t, hub)
	tm.pull(t, "alpine", img)

	r := tm.get(t, "/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	if f := expfmt.ResponseFormat(r.header); f.FormatType() != expfmt.TypeTextPlain {
		t.Errorf("/metrics Content-Type %q is read by Prometheus as %s, want the text format", r.header.Get("Content-Type"), f)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, r.body)
	}
	for name, want := range metricFamilies {
		checkFamily(t, families[name], name, want)
	}
	var extra []string
	for name := range families {
		if _, ok := metricFamilies[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("/metrics has families this test does not know: %v (add them to metricFamilies)", extra)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", r.body)
	}
}

// checkFamily reports what is wrong with one parsed family: missing, of
// another type, without help text, or without a sample.
func checkFamily(t *testing.T, mf *dto.MetricFamily, name string, want dto.MetricType) {
	t.Helper()
	switch {
	case mf == nil:
		t.Errorf("/metrics lacks %s", name)
	case mf.GetType() != want:
		t.Errorf("%s has type %s, want %s", name, mf.GetType(), want)
	case mf.GetHelp() == "":
		t.Errorf("%s has no HELP", name)
	case len(mf.GetMetric()) == 0:
		t.Errorf("%s has no samples", name)
	}
}
