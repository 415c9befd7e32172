package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// conformanceTimeout bounds one run of the conformance suite.
const conformanceTimeout = 5 * time.Minute

// conformanceRepo is the repository the suite reads; the mirror passes it
// to the fake hub unchanged because it has a namespace.
const conformanceRepo = "conformance/repo1"

var (
	conformanceResult = regexp.MustCompile(`(?m)^OCI Conformance Result: (\S+)\s*$`)
	// conformanceRow matches "  Name.......:     Status" rows of the
	// summary tables.
	conformanceRow = regexp.MustCompile(`^\s+(\S.*?)\.*:\s+(\S+)\s*$`)
	// conformanceOK matches a results tree line of a test that did not fail.
	conformanceOK = regexp.MustCompile(`: (Pass|Skip|Disabled)$`)
)

// conformanceContent preloads the fake hub with content the suite pulls and
// returns the tags, manifest digests and blob digests to announce in
// OCI_RO_DATA_*.
func conformanceContent(hub *fakehub.Hub) (tags, manifests, blobs []string) {
	image := hub.AddOCIImage(conformanceRepo, "image",
		fakehub.Layer(map[string]string{"hello": "conformance\n"}),
		fakehub.Layer(map[string]string{"random": string(randomBytes(64<<10, 2))}),
	)
	amd64 := hub.AddOCIImage(conformanceRepo, "index-amd64",
		fakehub.Layer(map[string]string{"arch": "amd64\n"}),
	)
	arm64 := hub.AddOCIImage(conformanceRepo, "index-arm64",
		fakehub.Layer(map[string]string{"arch": "arm64\n"}),
	)
	index := hub.AddIndex(conformanceRepo, "index", fakehub.MediaTypeOCIIndex, map[string]fakehub.Image{
		"linux/amd64": amd64,
		"linux/arm64": arm64,
	})
	empty := hub.AddBlob(nil)

	tags = []string{"image", "index-amd64", "index-arm64", "index"}
	for _, img := range []fakehub.Image{image, amd64, arm64, index} {
		manifests = append(manifests, img.Digest)
		if img.Config.Digest != "" {
			blobs = append(blobs, img.Config.Digest)
		}
		blobs = append(blobs, layerDigests(img)...)
	}
	blobs = append(blobs, empty.Digest)
	return tags, manifests, blobs
}

// TestConformancePull runs the OCI distribution-spec conformance suite,
// pull APIs only, against the mirror in front of a fake hub preloaded with
// an OCI image, an OCI index with its two images and the empty blob. (The
// suite asks for OCI types only, so a Docker schema2 image would be a 404.)
//
// The suite exits 2 even after a full pass (it panics writing results.yaml
// in pull-only mode), so the verdict is read from its printed summary.
func TestConformancePull(t *testing.T) {
	bin := toolConformance.path(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	tags, manifests, blobs := conformanceContent(hub)
	m := startMirror(t, hub.URL())

	env := withoutPrefix(isolatedEnv(t), "OCI_")
	env = append(env,
		"OCI_REGISTRY="+m.Addr,
		"OCI_TLS=disabled",
		"OCI_VERSION=1.1",
		"OCI_REPO1="+conformanceRepo,
		"OCI_REPO2=conformance/repo2",
		"OCI_API_PULL=true",
		"OCI_API_PUSH=false",
		"OCI_API_BLOBS_DELETE=false",
		"OCI_API_MANIFESTS_DELETE=false",
		"OCI_API_TAGS_DELETE=false",
		"OCI_API_TAGS_LIST=true",
		"OCI_API_REFERRER=false",
		// No sha512 content can be preloaded: the fake hub names blobs by
		// sha256. (Data kinds other than read-only ones are generated only
		// for push, so the other OCI_DATA_* settings do not matter here.)
		"OCI_DATA_SHA512=false",
		"OCI_RO_DATA_TAGS="+strings.Join(tags, " "),
		"OCI_RO_DATA_MANIFESTS="+strings.Join(manifests, " "),
		"OCI_RO_DATA_BLOBS="+strings.Join(blobs, " "),
		"OCI_RESULTS_DIR="+t.TempDir(),
	)
	ctx, cancel := context.WithTimeout(context.Background(), conformanceTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	cmd.Dir = t.TempDir() // no stray oci-conformance.yaml
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = childProcAttr()
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("conformance did not finish within %v:\n%s", conformanceTimeout, out.Bytes())
	}
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		t.Fatalf("run conformance: %v", runErr)
	}

	res := parseConformance(out.String())
	if res.result != "Pass" {
		t.Errorf("OCI Conformance Result: %q, want Pass (%v); failed tests:\n%s",
			res.result, runErr, strings.Join(res.failed, "\n"))
	}
	// A pass can also mean everything was skipped: insist on the pull APIs
	// and on the preloaded content.
	for _, api := range []string{
		"Ping", "Tag listing",
		"Manifest get by tag", "Manifest get by digest",
		"Manifest head by tag", "Manifest head by digest",
		"Blob get", "Blob head",
	} {
		if got := res.apis[api]; got != "Pass" {
			t.Errorf("API %q: %q, want Pass", api, got)
		}
	}
	if got := res.data["Read Only Inputs"]; got != "Pass" {
		t.Errorf("data %q: %q, want Pass", "Read Only Inputs", got)
	}
	if t.Failed() {
		t.Logf("conformance output:\n%s", out.Bytes())
	}
}

// conformanceReport is what TestConformancePull reads from the suite's
// printed summary.
type conformanceReport struct {
	result string
	failed []string          // failing tests and their errors
	apis   map[string]string // "API conformance" table
	data   map[string]string // "Data conformance" table
}

func parseConformance(out string) conformanceReport {
	r := conformanceReport{apis: map[string]string{}, data: map[string]string{}}
	if m := conformanceResult.FindStringSubmatch(out); m != nil {
		r.result = m[1]
	}
	sections := map[string]string{
		"Test results":      "results",
		"API conformance:":  "apis",
		"Data conformance:": "data",
	}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := sections[line]; ok {
			section = s
			continue
		}
		if strings.TrimSpace(line) == "" {
			section = "" // each section ends with an empty line
			continue
		}
		switch section {
		case "results":
			// Everything but a passing, skipped or disabled test is a
			// failure or its error text.
			if !conformanceOK.MatchString(line) {
				r.failed = append(r.failed, line)
			}
		case "apis", "data":
			if m := conformanceRow.FindStringSubmatch(line); m != nil {
				if section == "apis" {
					r.apis[m[1]] = m[2]
				} else {
					r.data[m[1]] = m[2]
				}
			}
		}
	}
	return r
}

// withoutPrefix returns env without the variables whose names start with
// prefix.
func withoutPrefix(env []string, prefix string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			kept = append(kept, kv)
		}
	}
	return kept
}

// TestParseConformance checks the summary parser on output in the suite's
// format, passing and failing.
func TestParseConformance(t *testing.T) {
	const passing = `Test results
OCI Conformance Test: Pass
  OCI Conformance Test/ping: Pass
  OCI Conformance Test/sha256 blobs: Disabled
  OCI Conformance Test/read-only: Pass
    OCI Conformance Test/read-only/pull: Pass

Configuration:
  registry: 127.0.0.1:5000

OCI Conformance Result: Pass
  Pass..........................:          3
  Total.........................:          3

API conformance:
  Tag listing...................:       Pass
  Blob get range................:    Unknown
  Manifest put with tag params..:   Disabled

Data conformance:
  Read Only Inputs..............:       Pass

panic: runtime error: invalid memory address or nil pointer dereference
`
	const failing = `Test results
OCI Conformance Test: FAIL
  OCI Conformance Test/ping: FAIL
   - registry ping failed: 401
  OCI Conformance Test/read-only: FAIL
    OCI Conformance Test/read-only/pull: FAIL
      OCI Conformance Test/read-only/pull/blob-get: Pass
      OCI Conformance Test/read-only/pull/blob-get: FAIL
       - blob get failed: unexpected status code
unexpected status code, expected one of [200], received 404

OCI Conformance Result: FAIL
  FAIL..........................:          4

API conformance:
  Ping..........................:       FAIL

Data conformance:
  Read Only Inputs..............:       FAIL
`
	tests := []struct {
		name       string
		out        string
		wantResult string
		wantFailed []string
		wantAPIs   map[string]string
		wantData   map[string]string
	}{
		{
			name:       "pass",
			out:        passing,
			wantResult: "Pass",
			wantAPIs:   map[string]string{"Tag listing": "Pass", "Blob get range": "Unknown", "Manifest put with tag params": "Disabled"},
			wantData:   map[string]string{"Read Only Inputs": "Pass"},
		},
		{
			name:       "fail",
			out:        failing,
			wantResult: "FAIL",
			wantFailed: []string{
				"OCI Conformance Test: FAIL",
				"  OCI Conformance Test/ping: FAIL",
				"   - registry ping failed: 401",
				"  OCI Conformance Test/read-only: FAIL",
				"    OCI Conformance Test/read-only/pull: FAIL",
				"      OCI Conformance Test/read-only/pull/blob-get: FAIL",
				"       - blob get failed: unexpected status code",
				"unexpected status code, expected one of [200], received 404",
			},
			wantAPIs: map[string]string{"Ping": "FAIL"},
			wantData: map[string]string{"Read Only Inputs": "FAIL"},
		},
		{
			name:     "no summary",
			out:      "failed to load config: boom\n",
			wantAPIs: map[string]string{},
			wantData: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseConformance(tt.out)
			if r.result != tt.wantResult {
				t.Errorf("result = %q, want %q", r.result, tt.wantResult)
			}
			if !slices.Equal(r.failed, tt.wantFailed) {
				t.Errorf("failed = %q, want %q", r.failed, tt.wantFailed)
			}
			if !maps.Equal(r.apis, tt.wantAPIs) {
				t.Errorf("apis = %v, want %v", r.apis, tt.wantAPIs)
			}
			if !maps.Equal(r.data, tt.wantData) {
				t.Errorf("data = %v, want %v", r.data, tt.wantData)
			}
		})
	}
}
