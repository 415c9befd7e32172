package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hubmirror/hubmirror/internal/fakehub"
)

// TestSelfAuthWithSkopeo logs in to a mirror running with --self-auth and
// an allow-list the way podman and skopeo do (containers/image's client:
// GET /v2/, the mirror's challenge, a token request with Basic), then
// copies an image with that login. Wrong passwords and unlisted users are
// refused at login.
func TestSelfAuthWithSkopeo(t *testing.T) {
	s := newSkopeo(t)
	hub := fakehub.New()
	t.Cleanup(hub.Close)
	hub.AddUser("alice", "alice-skopeo-pw")
	hub.AddUser("bobby", "bobby-skopeo-pw")
	img := hub.AddImage("library/alpine", "3.20", fakehub.Layer(map[string]string{"etc/alpine-release": "3.20.0\n"}))
	m := startMirrorEnv(t, hub.URL(), filepath.Join(t.TempDir(), "cache"), isolatedEnv(t),
		"--self-auth", "--allow-user", "alice")
	auth := filepath.Join(t.TempDir(), "auth.json")

	login := func(user, password string) (string, error) {
		cmd := exec.Command(s.bin, append(slices.Clone(s.global), "login", "--tls-verify=false",
			"--authfile", auth, "-u", user, "--password-stdin", m.Addr)...)
		cmd.Env = s.env
		cmd.Stdin = strings.NewReader(password + "\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := login("alice", "wrong-password"); err == nil {
		t.Errorf("login with a wrong password succeeded: %s", out)
	}
	if out, err := login("bobby", "bobby-skopeo-pw"); err == nil {
		t.Errorf("login of a user not on the allow-list succeeded: %s", out)
	} else if !strings.Contains(out, "403") {
		// skopeo shows the status, not the body ("user … may not pull").
		t.Errorf("an unlisted user is not refused with 403: %s", out)
	}

	dir := filepath.Join(t.TempDir(), "layout")
	copyArgs := []string{"copy", "--quiet", "--src-tls-verify=false", "--authfile", auth,
		"docker://" + m.Addr + "/library/alpine:3.20", "oci:" + dir}
	if out, err := runToolErr(s.env, s.bin, append(slices.Clone(s.global), copyArgs...)...); err == nil {
		t.Fatalf("copy without logging in succeeded: %s", out)
	}
	if out, err := login("alice", "alice-skopeo-pw"); err != nil {
		t.Fatalf("login: %v: %s", err, out)
	}
	s.run(t, copyArgs...)
	if lc := readLayout(t, dir); !sameSet(lc.Layers, layerDigests(img)) {
		t.Errorf("copied layers %v, want %v", lc.Layers, layerDigests(img))
	}
	if raw, _ := os.ReadFile(auth); strings.Contains(m.log.String(), "alice-skopeo-pw") || len(raw) == 0 {
		t.Errorf("the password reached the mirror's log, or skopeo stored no login")
	}
}
