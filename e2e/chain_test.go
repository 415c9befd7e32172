package e2e

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
	"github.com/hubmirror/hubmirror/internal/testutil"
)

// TestLaptopChainedToTeamMirror (issue 15 item 5): a team mirror runs
// with --self-auth and --tls auto in front of the hub; a laptop's mirror
// has it as Docker Hub (--upstream docker.io=https://TEAM) and trusts its
// CA (--upstream-ca, the file `hubmirror setup ca` printed on the team
// side). `hubmirror login TEAM` stores the account under the team
// mirror's host:port, checked against the team mirror's token realm; the
// laptop's mirror logs in with it, pulls a private image with the right
// bytes, and serves it again from its own cache once the team mirror is
// stopped.
func TestLaptopChainedToTeamMirror(t *testing.T) {
	keyringSession(t)
	const password = "alice-chain-password-3c9e"
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.AddUser("alice", password)
	img := hub.AddImage("alice/secret", "v1", []byte("private layer for the team"))
	hub.SetPrivate("alice/secret", "alice")

	team := startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "team-cache"), isolatedEnv(t),
		"--self-auth", "--tls", "auto")
	caPEM, code := hubmirror(t, isolatedEnv(t), "", "setup", "ca", "--config", team.ConfigPath, "--tls", "auto")
	if code != 0 || !strings.Contains(caPEM, "BEGIN CERTIFICATE") {
		t.Fatalf("setup ca on the team mirror: exit %d: %s", code, caPEM)
	}
	caFile := filepath.Join(t.TempDir(), "team-ca.crt")
	if err := os.WriteFile(caFile, []byte(caPEM), 0o600); err != nil {
		t.Fatal(err)
	}

	// The laptop: its own settings file, the shared keyring.
	env := isolatedEnv(t)
	laptopConfig := filepath.Join(t.TempDir(), "settings.json")
	teamURL := "https://" + team.Addr
	login := func(pw string) (string, int) {
		return hubmirror(t, env, pw+"\n", "login", team.Addr, "-u", "alice", "--password-stdin",
			"--config", laptopConfig, "--upstream-ca", caFile)
	}
	out, code := login("wrong-password")
	if code == 0 || !strings.Contains(out, "refused") {
		t.Fatalf("login to the team mirror with a wrong password: exit %d: %s", code, out)
	}
	out, code = login(password)
	if code != 0 || !strings.Contains(out, "Login succeeded") || !strings.Contains(out, team.Addr) {
		t.Fatalf("login to the team mirror: exit %d: %s", code, out)
	}
	t.Cleanup(func() { hubmirror(t, env, "", "logout", team.Addr) })
	all := out

	laptop := startMirrorEnv(t, teamURL, filepath.Join(t.TempDir(), "laptop-cache"), env,
		"--config", laptopConfig, "--upstream-ca", caFile)
	pull := func(what string) {
		t.Helper()
		manifest, st := chainGet(t, laptop.URL("/v2/alice/secret/manifests/v1"), img.MediaType)
		if st != http.StatusOK || !bytes.Equal(manifest, img.Manifest) {
			t.Fatalf("%s: manifest: %d, %d bytes (want 200 and the hub's %d bytes)", what, st, len(manifest), len(img.Manifest))
		}
		for _, b := range append([]fakehub.Blob{img.Config}, img.Layers...) {
			body, st := chainGet(t, laptop.URL("/v2/alice/secret/blobs/"+b.Digest), "")
			if st != http.StatusOK || !bytes.Equal(body, b.Data) {
				t.Fatalf("%s: blob %s: %d, %d bytes (want 200 and %d bytes)", what, b.Digest, st, len(body), len(b.Data))
			}
		}
	}
	pull("through the team mirror")

	// The team mirror checked alice's password with the hub: the laptop
	// sent the account stored for the team mirror's host.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))
	seen := false
	for _, r := range hub.Requests() {
		seen = seen || (r.Server == fakehub.ServerAuth && r.Authorization == basic)
	}
	if !seen {
		t.Errorf("the hub's token service never saw alice's stored account")
	}

	team.stop(t)
	pull("with the team mirror stopped")
	laptop.stop(t)
	all += team.log.String() + laptop.log.String()
	if strings.Contains(all, password) {
		t.Errorf("the password appears in hubmirror's output")
	}
}

// chainGet GETs url with Accept set (when not "") and returns the body and
// the status.
func chainGet(t *testing.T, url, accept string) ([]byte, int) {
	t.Helper()
	status, body := testutil.Get(t, nil, url, "Accept", accept)
	return body, status
}
