package ui

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/settings"
)

// removeButton finds the remove button of the allow-list row showing name.
func removeButton(t *testing.T, f *settingsForm, name string) *widget.Button {
	t.Helper()
	for _, o := range test.LaidOutObjects(f.userList) {
		row, ok := o.(*fyne.Container)
		if !ok || len(row.Objects) != 2 {
			continue
		}
		if label, remove := rowParts(row); label != nil && remove != nil && label.Text == name {
			return remove
		}
	}
	t.Fatalf("no row shows %q", name)
	return nil
}

func TestShowSettings(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	w := h.window()
	if w.Title() != "hubmirror settings" || !w.shown {
		t.Fatalf("window %q shown %v", w.Title(), w.shown)
	}
	if f.listen.Text != "127.0.0.1:5000" || f.cacheDir.Text != "/var/cache/hubmirror" || !f.startOnLaunch.Checked || f.selfAuth.Checked {
		t.Errorf("form shows listen %q, cache %q, start %v, self_auth %v; want the backend's settings",
			f.listen.Text, f.cacheDir.Text, f.startOnLaunch.Checked, f.selfAuth.Checked)
	}
	if !slices.Equal(f.users, []string{"alice", "bob1"}) {
		t.Errorf("users %q", f.users)
	}
	if !f.hubPassword.Password {
		t.Error("the password entry shows the password")
	}
	if f.hubUser.Text != "alice" || !strings.Contains(f.accountMsg.Text, "alice") {
		t.Errorf("account %q, message %q; want the stored username", f.hubUser.Text, f.accountMsg.Text)
	}
	if f.banner.Visible() {
		t.Errorf("banner %q shown with no problem", f.bannerText.Text)
	}
}

func TestCloseHides(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	f := h.open()
	w := h.window()
	w.userClose()
	if w.shown || w.closed {
		t.Fatalf("after close: shown %v, closed %v; want hidden", w.shown, w.closed)
	}
	// Reopening shows the same window, refilled from the settings.
	f.listen.SetText("edited:1")
	h.open()
	if !w.shown || len(h.app.windows) != 1 {
		t.Errorf("reopen: shown %v, %d windows", w.shown, len(h.app.windows))
	}
	if f.listen.Text != "127.0.0.1:5000" {
		t.Errorf("listen %q after reopening, want the saved one", f.listen.Text)
	}
	test.Tap(f.close)
	if w.shown || w.closed {
		t.Errorf("after Close: shown %v, closed %v; want hidden", w.shown, w.closed)
	}
}

func TestCloseWithoutTrayQuits(t *testing.T) {
	for _, name := range []string{"window", "button"} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			f := h.open()
			if name == "window" {
				h.window().userClose()
			} else {
				test.Tap(f.close)
			}
			h.u.wait()
			if !h.app.quit || !h.app.stoppedFirst {
				t.Errorf("quit %v, stopped first %v: with no tray, closing the window must quit", h.app.quit, h.app.stoppedFirst)
			}
		})
	}
}

func TestSelfAuthTogglesAllowList(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	check := func(on bool) {
		t.Helper()
		if f.newUser.Disabled() == on || f.addUser.Disabled() == on || removeButton(t, f, "alice").Disabled() == on {
			t.Errorf("self_auth %v: entry disabled %v, Add disabled %v", on, f.newUser.Disabled(), f.addUser.Disabled())
		}
		if f.authHint.Visible() == on {
			t.Errorf("self_auth %v: hint visible %v", on, f.authHint.Visible())
		}
	}
	check(false)
	if f.authHint.Text != "Turn on self_auth to choose who may pull; without it anyone who can reach the port can pull." {
		t.Errorf("hint %q", f.authHint.Text)
	}
	test.Tap(f.selfAuth)
	check(true)
	test.Tap(f.selfAuth)
	check(false)
}

func TestAllowList(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	test.Tap(f.selfAuth)

	for _, tc := range []struct {
		name, typed string
		want        []string
		msg         string // in the message; "" for no message
	}{
		{"valid", "carol42", []string{"alice", "bob1", "carol42"}, ""},
		{"invalid", "Bob!", []string{"alice", "bob1", "carol42"}, `"Bob!" is not a Docker Hub username`},
		{"too short", "abc", []string{"alice", "bob1", "carol42"}, "4 to 30 lowercase letters and digits"},
		{"duplicate", "alice", []string{"alice", "bob1", "carol42"}, "alice is already listed"},
		{"empty", "", []string{"alice", "bob1", "carol42"}, "Type a Docker Hub username"},
		{"after a problem", "dave", []string{"alice", "bob1", "carol42", "dave"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.newUser.SetText("")
			test.Type(f.newUser, tc.typed)
			test.Tap(f.addUser)
			if !slices.Equal(f.users, tc.want) {
				t.Errorf("users %q, want %q", f.users, tc.want)
			}
			if tc.msg == "" {
				if f.userMsg.Visible() {
					t.Errorf("message %q shown", f.userMsg.Text)
				}
				if f.newUser.Text != "" {
					t.Errorf("entry %q not cleared", f.newUser.Text)
				}
				return
			}
			if !f.userMsg.Visible() || !strings.Contains(f.userMsg.Text, tc.msg) || f.userMsg.Importance != widget.DangerImportance {
				t.Errorf("message %q (visible %v), want a red one with %q", f.userMsg.Text, f.userMsg.Visible(), tc.msg)
			}
		})
	}

	test.Tap(removeButton(t, f, "bob1"))
	if want := []string{"alice", "carol42", "dave"}; !slices.Equal(f.users, want) {
		t.Errorf("after removing bob1: %q, want %q", f.users, want)
	}
	if len(h.b.Calls()) != 1 {
		t.Errorf("calls %q: editing the list must not save it", h.b.Calls())
	}
}

func TestSave(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	f.listen.SetText("")
	test.Type(f.listen, "0.0.0.0:5001")
	f.cacheDir.SetText("/srv/hubmirror")
	test.Tap(f.startOnLaunch)
	test.Tap(f.selfAuth)
	test.Tap(removeButton(t, f, "alice"))
	test.Type(f.newUser, "carol42")
	test.Tap(f.addUser)

	test.Tap(f.save)
	h.u.wait()
	want := settings.Settings{
		Listen:        "0.0.0.0:5001",
		CacheDir:      "/srv/hubmirror",
		Upstreams:     map[string]string{"ghcr.io": "https://ghcr.io"},
		SelfAuth:      true,
		AllowedUsers:  []string{"bob1", "carol42"},
		StartOnLaunch: false,
	}
	if len(h.b.saved) != 1 || !reflect.DeepEqual(h.b.saved[0], want) {
		t.Fatalf("saved %+v, want %+v", h.b.saved, want)
	}
	if f.saveMsg.Text != "Saved" || f.banner.Visible() || f.save.Disabled() {
		t.Errorf("after saving: message %q, banner %v, Save disabled %v", f.saveMsg.Text, f.banner.Visible(), f.save.Disabled())
	}
}

func TestSaveErrors(t *testing.T) {
	h := newHarness(t)
	f := h.open()

	// The backend rejects a field: the banner says which and why.
	h.b.errs["UpdateSettings"] = &settings.FieldError{Field: "cache_dir", Value: "cache", Problem: "must be an absolute path"}
	f.cacheDir.SetText("cache")
	test.Tap(f.save)
	h.u.wait()
	if want := `Cache directory "cache" must be an absolute path`; !f.banner.Visible() || f.bannerText.Text != want {
		t.Errorf("banner %q (visible %v), want %q", f.bannerText.Text, f.banner.Visible(), want)
	}
	if f.saveMsg.Text == "Saved" {
		t.Error(`"Saved" shown after an error`)
	}

	// A bad listen address is caught before the backend is asked.
	calls := len(h.b.Calls())
	f.listen.SetText("localhost")
	test.Tap(f.save)
	h.u.wait()
	if len(h.b.Calls()) != calls {
		t.Errorf("calls %q: a bad address reached the backend", h.b.Calls()[calls:])
	}
	if !strings.HasPrefix(f.bannerText.Text, `Listen address "localhost" is not host:port`) {
		t.Errorf("banner %q, want the listen problem", f.bannerText.Text)
	}

	// A good save clears the banner.
	delete(h.b.errs, "UpdateSettings")
	f.listen.SetText("127.0.0.1:5001")
	f.cacheDir.SetText("/srv/cache")
	test.Tap(f.save)
	h.u.wait()
	if f.banner.Visible() {
		t.Errorf("banner %q after a good save", f.bannerText.Text)
	}
	if len(h.app.notifications) != 0 {
		t.Errorf("notifications %v: save errors are shown in the window only", h.app.notifications)
	}
}

func TestAccount(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	f.hubUser.SetText("")
	test.Type(f.hubUser, "carol42")
	test.Type(f.hubPassword, "s3cret")

	for _, tc := range []struct {
		button        *widget.Button
		err           error
		call          string
		msg           string
		clearPassword bool
	}{
		{f.testAccount, nil, "TestAccount carol42 s3cret", "Docker Hub accepted the password", false},
		{f.testAccount, errors.New("docker hub rejected the password for carol42"), "TestAccount carol42 s3cret", "docker hub rejected the password for carol42", false},
		{f.saveAccount, errors.New("keyring unavailable"), "SaveAccount carol42 s3cret", "keyring unavailable", false},
		{f.saveAccount, nil, "SaveAccount carol42 s3cret", "Saved for carol42", true},
		{f.removeAccount, errors.New("keyring unavailable"), "RemoveAccount", "keyring unavailable", false},
		{f.removeAccount, nil, "RemoveAccount", "Removed the stored account", true},
	} {
		t.Run(tc.call, func(t *testing.T) {
			f.hubPassword.SetText("s3cret")
			name, _, _ := strings.Cut(tc.call, " ")
			h.b.errs[name] = tc.err
			h.b.block = make(chan struct{})
			test.Tap(tc.button)
			for _, b := range []*widget.Button{f.saveAccount, f.testAccount, f.removeAccount} {
				if !b.Disabled() {
					t.Errorf("%s enabled during the call", b.Text)
				}
			}
			close(h.b.block)
			h.u.wait()
			if calls := h.b.Calls(); calls[len(calls)-1] != tc.call {
				t.Errorf("last call %q, want %q", calls[len(calls)-1], tc.call)
			}
			if !strings.HasPrefix(f.accountMsg.Text, tc.msg) {
				t.Errorf("message %q, want %q", f.accountMsg.Text, tc.msg)
			}
			if cleared := f.hubPassword.Text == ""; cleared != tc.clearPassword {
				t.Errorf("password cleared %v, want %v", cleared, tc.clearPassword)
			}
			if danger := f.accountMsg.Importance == widget.DangerImportance; danger != (tc.err != nil) {
				t.Errorf("message in red %v, want %v", danger, tc.err != nil)
			}
			for _, b := range []*widget.Button{f.saveAccount, f.testAccount, f.removeAccount} {
				if b.Disabled() {
					t.Errorf("%s still disabled", b.Text)
				}
			}
		})
	}
	if f.hubUser.Text != "" || f.hubPassword.Text != "" {
		t.Errorf("after Remove: user %q, password %q; want both cleared", f.hubUser.Text, f.hubPassword.Text)
	}

	// Nothing typed: no call, a message instead.
	calls := len(h.b.Calls())
	test.Tap(f.testAccount)
	h.u.wait()
	if len(h.b.Calls()) != calls || !strings.Contains(f.accountMsg.Text, "username and password") {
		t.Errorf("empty form: calls %q, message %q", h.b.Calls()[calls:], f.accountMsg.Text)
	}
}

func TestAccountKeyringUnavailable(t *testing.T) {
	h := newHarness(t)
	msg := "the OS keyring cannot be used (org.freedesktop.secrets was not provided by any .service files): install gnome-keyring"
	h.b.errs["Account"] = errors.New(msg)
	f := h.open()
	if f.accountMsg.Text != msg || f.accountMsg.Importance != widget.DangerImportance {
		t.Errorf("message %q, want the keyring error in red", f.accountMsg.Text)
	}
	if f.hubUser.Text != "" {
		t.Errorf("user %q, want empty", f.hubUser.Text)
	}
	if len(h.app.notifications) != 1 || h.app.notifications[0].Content != msg {
		t.Errorf("notifications %v, want the keyring problem once", h.app.notifications)
	}
}

func TestLiveStatus(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	if f.state.Text != "Stopped" || f.pullsLeft.Text != "unknown" || f.addr.Text != "not listening" {
		t.Errorf("stopped: state %q, pulls left %q, address %q", f.state.Text, f.pullsLeft.Text, f.addr.Text)
	}
	h.push(proxy.Status{State: proxy.Running, Addr: "127.0.0.1:5000", Counters: proxy.Counters{
		Requests: 12, BytesFromCache: 3_400_000, BytesFromUpstream: 1_200_000_000, DownloadsInFlight: 2,
		CacheBytes: 5_000_000_000, CacheHits: 3, CacheMisses: 1, DockerHubPullsLeft: 87,
	}})
	for _, c := range []struct{ got, want string }{
		{f.state.Text, "Running"},
		{f.addr.Text, "127.0.0.1:5000"},
		{f.requests.Text, "12"},
		{f.fromCache.Text, "3.4 MB"},
		{f.fromUpstream.Text, "1.2 GB"},
		{f.inFlight.Text, "2"},
		{f.cached.Text, "5.0 GB on disk · 75% of requests served from it"},
		{f.pullsLeft.Text, "87"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}

	h.push(proxy.Status{State: proxy.Failed, Err: inUse})
	if f.state.Text != "Failed" || !f.banner.Visible() || f.bannerText.Text != inUse {
		t.Errorf("failed: state %q, banner %q (visible %v)", f.state.Text, f.bannerText.Text, f.banner.Visible())
	}
	h.push(proxy.Status{State: proxy.Stopped, Err: inUse})
	if f.banner.Visible() {
		t.Errorf("banner %q shown while stopped", f.bannerText.Text)
	}
}

func TestStatusBeforeWindow(t *testing.T) {
	h := newHarness(t)
	h.push(proxy.Status{State: proxy.Failed, Err: inUse})
	f := h.open()
	if f.state.Text != "Failed" || f.bannerText.Text != inUse || !f.banner.Visible() {
		t.Errorf("state %q, banner %q (visible %v); want the failure that came before the window", f.state.Text, f.bannerText.Text, f.banner.Visible())
	}
}

// TestWindowFollowsFile: while the window is open, fields the user has
// not edited show what another program wrote to the settings file; an
// edited field keeps the user's value.
func TestWindowFollowsFile(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	f.listen.SetText("127.0.0.1:5009") // edited in the window
	h.changeOnDisk(func(s *settings.Settings) {
		s.Listen = "127.0.0.1:6000"
		s.CacheDir = "/srv/elsewhere"
		s.SelfAuth = true
		s.AllowedUsers = append(s.AllowedUsers, "carol42")
		s.Pinned = []string{"alpine:3.20"}
	})
	if f.listen.Text != "127.0.0.1:5009" {
		t.Errorf("listen %q: the user's edit was replaced by the file's", f.listen.Text)
	}
	if f.cacheDir.Text != "/srv/elsewhere" || !f.selfAuth.Checked || !slices.Equal(f.users, []string{"alice", "bob1", "carol42"}) {
		t.Errorf("form shows cache %q, self_auth %v, users %q; want the file's", f.cacheDir.Text, f.selfAuth.Checked, f.users)
	}
	if f.newUser.Disabled() {
		t.Error("the allow-list stays disabled after self_auth was turned on in the file")
	}

	test.Tap(f.save)
	h.u.wait()
	want := settings.Settings{
		Listen:        "127.0.0.1:5009",
		CacheDir:      "/srv/elsewhere",
		Upstreams:     map[string]string{"ghcr.io": "https://ghcr.io"},
		SelfAuth:      true,
		AllowedUsers:  []string{"alice", "bob1", "carol42"},
		StartOnLaunch: true,
		Pinned:        []string{"alpine:3.20"},
	}
	if len(h.b.saved) != 1 || !reflect.DeepEqual(h.b.saved[0], want) {
		t.Fatalf("saved %+v, want %+v", h.b.saved, want)
	}

	// After Save nothing is edited: the next change on disk shows in
	// every field.
	h.changeOnDisk(func(s *settings.Settings) { s.Listen = "127.0.0.1:7000" })
	if f.listen.Text != "127.0.0.1:7000" {
		t.Errorf("listen %q after Save and a change on disk, want the file's", f.listen.Text)
	}
}

// TestSaveWritesOnlyEdits: Save changes only the fields edited in the
// window, over the file as it is at Save time, so a pin added by
// `hubmirror pin add` (even one the window has not heard of yet) and other
// fields changed on disk survive.
func TestSaveWritesOnlyEdits(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	h.b.mu.Lock()
	h.b.settings.Pinned = []string{"alpine:3.20"}
	h.b.settings.CacheDir = "/srv/elsewhere"
	h.b.settings.AllowedUsers = []string{"alice"}
	h.b.mu.Unlock()

	test.Tap(f.startOnLaunch)
	test.Tap(f.save)
	h.u.wait()
	want := settings.Settings{
		Listen:        "127.0.0.1:5000",
		CacheDir:      "/srv/elsewhere",
		Upstreams:     map[string]string{"ghcr.io": "https://ghcr.io"},
		AllowedUsers:  []string{"alice"},
		StartOnLaunch: false,
		Pinned:        []string{"alpine:3.20"},
	}
	if len(h.b.saved) != 1 || !reflect.DeepEqual(h.b.saved[0], want) {
		t.Fatalf("saved %+v, want %+v", h.b.saved, want)
	}
	// The window now shows what was saved.
	if f.cacheDir.Text != "/srv/elsewhere" || !slices.Equal(f.users, []string{"alice"}) {
		t.Errorf("after Save the form shows cache %q, users %q; want the file's", f.cacheDir.Text, f.users)
	}
}
