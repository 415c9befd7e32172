package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestSelfAuthSessionsShareAStore runs two `hubmirror serve --self-auth`
// instances on one bucket: a token issued by the first works on the
// second for a private image (right bytes), a random token works on
// neither, the second's allow-list still refuses a user only the first
// allows, and the bucket holds neither the password nor the upstream
// token in clear.
func TestSelfAuthSessionsShareAStore(t *testing.T) {
	srv, bucket, storeURL, hub := newTeamStore(t)
	const alicePW, carolPW = "alice-shared-store-pw", "carol-shared-store-pw"
	hub.AddUser("alice", alicePW)
	hub.AddUser("carol", carolPW)
	img := hub.AddImage("alice/secret", "v1", randomBytes(70_000, 7), randomBytes(3_000, 8))
	hub.SetPrivate("alice/secret", "alice")
	one := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL,
		"--self-auth", "--allow-user", "alice", "--allow-user", "carol")
	two := startMirrorEnv(t, hub.URL(), t.TempDir(), storeEnv(t), "--store", storeURL,
		"--self-auth", "--allow-user", "alice")
	client := newHTTPClient(1)
	t.Cleanup(client.CloseIdleConnections)

	tok := sessionLogin(t, client, one.Addr, "alice", alicePW, "alice/secret")
	paths := map[string][]byte{"/v2/alice/secret/manifests/" + img.Tag: img.Manifest, "/v2/alice/secret/blobs/" + img.Config.Digest: img.Config.Data}
	for _, l := range img.Layers {
		paths["/v2/alice/secret/blobs/"+l.Digest] = l.Data
	}
	for p, want := range paths {
		st, body := bearerGet(t, client, two.Addr, p, tok)
		if st != http.StatusOK || !bytes.Equal(body, want) {
			t.Errorf("GET %s from the second instance with the first's token: %d, %d bytes (want 200, %d bytes)", p, st, len(body), len(want))
		}
	}
	random := strings.Repeat("5a", 32)
	for _, m := range []*mirror{one, two} {
		if st, _ := bearerGet(t, client, m.Addr, "/v2/alice/secret/manifests/"+img.Tag, random); st != http.StatusUnauthorized {
			t.Errorf("a random token at %s: %d, want 401", m.Addr, st)
		}
	}
	carol := sessionLogin(t, client, one.Addr, "carol", carolPW)
	if st, _ := bearerGet(t, client, one.Addr, "/v2/", carol); st != http.StatusOK {
		t.Errorf("carol's token on the first instance: %d, want 200", st)
	}
	if st, _ := bearerGet(t, client, two.Addr, "/v2/", carol); st != http.StatusUnauthorized {
		t.Errorf("carol's token on the second instance, which does not allow her: %d, want 401", st)
	}

	// The upstream tokens are those the instances sent to the hub.
	secrets := map[string]string{"alice's password": alicePW, "carol's password": carolPW, "alice's token": tok, "carol's token": carol}
	for i, q := range hub.Requests() {
		if v, ok := strings.CutPrefix(q.Authorization, "Bearer "); ok && q.Server == fakehub.ServerRegistry {
			secrets[fmt.Sprintf("the upstream token of request %d", i)] = v
		}
	}
	if len(secrets) == 4 {
		t.Fatal("the hub saw no upstream token: the pull did not act for the user")
	}
	ctx := context.Background()
	sessions := 0
	for o := range srv.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.HasPrefix(o.Key, "team/sessions/") {
			sessions++
		}
		obj, err := srv.Client().GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(obj)
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			continue // an upload in progress, gone since the listing
		}
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range secrets {
			if bytes.Contains(raw, []byte(s)) || strings.Contains(o.Key, s) {
				t.Errorf("object %s holds %s in clear", o.Key, name)
			}
		}
	}
	if sessions != 2 {
		t.Errorf("%d session records in the bucket, want 2 (alice's and carol's)", sessions)
	}
}

// sessionLogin gets a token from a self_auth mirror's token endpoint with
// Basic credentials, as docker login and a pull's token request do.
func sessionLogin(t *testing.T, client *http.Client, addr, user, password string, repos ...string) string {
	t.Helper()
	q := url.Values{"service": {"hubmirror"}}
	for _, r := range repos {
		q.Add("scope", "repository:"+r+":pull")
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/auth?"+q.Encode(), nil)
	req.SetBasicAuth(user, password)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Token == "" {
		t.Fatalf("login of %s at %s: %d, %v", user, addr, resp.StatusCode, err)
	}
	return body.Token
}

// bearerGet GETs path from the mirror at addr with the token tok and
// returns the status and the body.
func bearerGet(t *testing.T, client *http.Client, addr, path, tok string) (int, []byte) {
	t.Helper()
	return testutil.Get(t, client, "http://"+addr+path, "Authorization", "Bearer "+tok,
		"Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
}
