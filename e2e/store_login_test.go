package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
	"github.com/hubmirror/hubmirror/internal/testutil/s3server"
)

// withoutAWS is env without any AWS_ variable, so that the keys can come
// from nowhere but the keyring (HOME, and so ~/.aws, is isolatedEnv's
// empty directory).
func withoutAWS(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}

// TestStoreLoginUsesRealKeyring: `hubmirror login s3://…` checks the keys
// it reads on standard input against a real S3 server (SeaweedFS),
// refuses a wrong secret and stores nothing then, and keeps the right
// ones in a real Secret Service; `hubmirror serve --store` with no AWS
// variable and an empty home signs with them, and a pulled blob lands in
// the bucket. Neither key is in the settings file or serve's log, the
// secret in no output at all; after `logout` serve cannot open the store
// and says how to give keys.
func TestStoreLoginUsesRealKeyring(t *testing.T) {
	keyringSession(t)
	srv := s3server.Start(t)
	bucket := srv.NewBucket(t)
	storeURL := srv.URL(bucket, "team")
	name := "s3://" + strings.TrimPrefix(srv.Endpoint, "http://") + "/" + bucket
	env := withoutAWS(isolatedEnv(t))
	config := t.TempDir() + "/settings.json"
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	im := &coldImage{hub: hub, repo: "library/teamstore"}
	b := hub.AddBlob(randomBytes(200_000, 61))
	im.layers, im.size = []fakehub.Blob{b}, b.Size
	hub.AddImageWithBlobs(im.repo, "latest", im.layers...)

	// A wrong secret, given the registry way (-u, --password-stdin):
	// refused by the server, nothing stored.
	out, code := hubmirror(t, env, "wrong-secret-5d2e\n", "login", storeURL, "-u", s3server.AccessKey, "--password-stdin", "--config", config)
	if code == 0 || !strings.Contains(out, "nothing was stored") || !strings.Contains(out, "refused the secret") {
		t.Fatalf("login with a wrong secret: exit %d: %s", code, out)
	}
	all := out
	out, code = hubmirror(t, env, "", "logout", storeURL, "--config", config)
	if code != 0 || !strings.Contains(out, "No credentials for "+name+" were stored") {
		t.Fatalf("logout after a refused login: exit %d: %s; want that nothing was stored for %s", code, out, name)
	}

	// The right keys, one per line as a script pipes them.
	out, code = hubmirror(t, env, s3server.AccessKey+"\n"+s3server.SecretKey+"\n", "login", storeURL, "--config", config)
	if code != 0 || !strings.Contains(out, "Login succeeded") || !strings.Contains(out, name) {
		t.Fatalf("login: exit %d: %s; want success for %s", code, out, name)
	}
	all += out

	m := startMirrorEnv(t, hub.URL(), t.TempDir(), env, "--store", storeURL)
	ctx := context.Background()
	client := newHTTPClient(1)
	t.Cleanup(client.CloseIdleConnections)
	if err := im.pullMirror(ctx, client, m.Addr); err != nil {
		t.Fatalf("pull through the mirror on the store: %v", err)
	}
	testutil.Eventually(t, "the layer in the bucket", func() bool {
		for o := range srv.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "team/blobs/", Recursive: true}) {
			if o.Err == nil && strings.HasSuffix(o.Key, "/"+strings.TrimPrefix(b.Digest, "sha256:")) {
				return true
			}
		}
		return false
	})
	m.stop(t)
	serveLog := m.log.String()
	if !strings.Contains(serveLog, "listening") {
		t.Fatalf("serve's log is not whole: %s", serveLog)
	}
	for _, path := range []string{config, m.ConfigPath} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if s := string(data); strings.Contains(s, s3server.AccessKey) || strings.Contains(s, s3server.SecretKey) {
			t.Errorf("the settings file %s holds a key of the store:\n%s", path, s)
		}
	}
	if strings.Contains(serveLog, s3server.AccessKey) || strings.Contains(serveLog, s3server.SecretKey) {
		t.Errorf("serve's log holds a key of the store:\n%s", serveLog)
	}
	all += serveLog

	out, code = hubmirror(t, env, "", "logout", storeURL, "--config", config)
	if code != 0 || !strings.Contains(out, "Removed") {
		t.Fatalf("logout: exit %d: %s", code, out)
	}
	all += out
	out, code = hubmirror(t, env, "", "serve", "--listen", "127.0.0.1:0", "--cache-dir", t.TempDir(), "--config", config,
		"--upstream", "docker.io="+hub.URL(), "--store", storeURL)
	if code == 0 || !strings.Contains(out, "no S3 credentials") || !strings.Contains(out, "hubmirror login") {
		t.Errorf("serve after logout: exit %d: %s; want it to stop, saying how to give the store's keys", code, out)
	}
	all += out
	if strings.Contains(all, s3server.SecretKey) || strings.Contains(all, "wrong-secret-5d2e") {
		t.Errorf("a secret appears in hubmirror's output:\n%s", all)
	}
}
