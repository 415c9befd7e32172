package e2e

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestHubClientPull checks the benchmarks' direct client against the fake
// hub: it must authenticate, follow the CDN redirect without Authorization
// and catch a body that does not match the digest.
func TestHubClientPull(t *testing.T) {
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	data := randomBytes(3<<20+17, 3)
	blob := hub.AddBlob(data)
	other := hub.AddBlob([]byte("another blob"))
	hub.AddImageWithBlobs("library/big", "latest", blob)
	c := newHubClient(hub.URL(), 1)

	tests := []struct {
		name    string
		digest  string
		size    int64
		wantErr error // nil: success; errDigestMismatch; errAny: another error
	}{
		{"whole blob", blob.Digest, blob.Size, nil},
		{"wrong size", blob.Digest, blob.Size + 1, errDigestMismatch},
		{"bytes of another blob", other.Digest, blob.Size, errDigestMismatch},
		{"unknown blob", testutil.Digest([]byte("not in the hub")), 14, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hub.Counters()
			err := c.pullBlob(context.Background(), "library/big", tt.digest, tt.size)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("pullBlob: %v", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatal("pullBlob succeeded, want an error")
			case tt.wantErr == errDigestMismatch && !errors.Is(err, errDigestMismatch):
				t.Fatalf("pullBlob: %v, want %v", err, errDigestMismatch)
			}
			after := hub.Counters()
			if after.CDNAuthRejected != before.CDNAuthRejected {
				t.Errorf("the CDN rejected the client for sending Authorization")
			}
			if tt.wantErr != errAny && after.CDNGets != before.CDNGets+1 {
				t.Errorf("CDN GETs went from %d to %d, want one more", before.CDNGets, after.CDNGets)
			}
		})
	}
}

// errAny stands for "some error" in tables.
var errAny = errors.New("any error")

// TestVerifyBody checks the digest and size check every benchmark relies on.
func TestVerifyBody(t *testing.T) {
	data := []byte("layer bytes")
	tests := []struct {
		name    string
		body    []byte
		digest  string
		size    int64
		wantErr bool
	}{
		{"match", data, testutil.Digest(data), int64(len(data)), false},
		{"empty blob", nil, testutil.Digest(nil), 0, false},
		{"truncated", data[:4], testutil.Digest(data), int64(len(data)), true},
		{"wrong digest", data, testutil.Digest([]byte("other")), int64(len(data)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyBody(bytes.NewReader(tt.body), tt.digest, tt.size)
			if (err != nil) != tt.wantErr {
				t.Fatalf("verifyBody: %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errDigestMismatch) {
				t.Errorf("verifyBody: %v, want it to wrap errDigestMismatch", err)
			}
		})
	}
}

// TestParseChallenge checks the WWW-Authenticate parser of the direct client.
func TestParseChallenge(t *testing.T) {
	tests := []struct {
		in         string
		wantScheme string
		want       map[string]string
		wantErr    bool
	}{
		{
			in:         `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"`,
			wantScheme: "Bearer",
			want:       map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io"},
		},
		{
			in:         `Bearer realm="http://a/token", service="s",scope="repository:library/alpine:pull,push"`,
			wantScheme: "Bearer",
			want:       map[string]string{"realm": "http://a/token", "service": "s", "scope": "repository:library/alpine:pull,push"},
		},
		{
			in:         `Basic realm=registry`,
			wantScheme: "Basic",
			want:       map[string]string{"realm": "registry"},
		},
		{in: `Bearer realm="unterminated`, wantErr: true},
		{in: `Bearer realm`, wantErr: true},
		{in: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			scheme, params, err := parseChallenge(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseChallenge: %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if scheme != tt.wantScheme || !maps.Equal(params, tt.want) {
				t.Errorf("parseChallenge = %q %v, want %q %v", scheme, params, tt.wantScheme, tt.want)
			}
		})
	}
}
