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

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
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
	// A preferences window fits an 800×600 screen, its sections in tabs.
	if min := w.Content().MinSize(); min.Width > 800 || min.Height > 600 {
		t.Errorf("the window needs %v, more than 800×600", min)
	}
	if s := settingsWindowSize; s.Width > 800 || s.Height > 600 {
		t.Errorf("the window opens at %v, more than 800×600", s)
	}
	var tabs []string
	for _, it := range f.tabs.Items {
		tabs = append(tabs, it.Text)
	}
	if want := []string{"General", "Access", "Docker Hub account", "Cache", "Clients"}; !slices.Equal(tabs, want) {
		t.Errorf("tabs %q, want %q", tabs, want)
	}
	// Nothing is edited yet: nothing to save, and Close rather than Cancel.
	if !f.save.Disabled() || f.cancel.Visible() || !f.close.Visible() {
		t.Errorf("unedited: Save disabled %v, Cancel shown %v, Close shown %v", f.save.Disabled(), f.cancel.Visible(), f.close.Visible())
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
	// Reopening shows the same window, refilled from the settings: Cancel
	// dropped the edit.
	h.open()
	f.listen.SetText("edited:1")
	if !f.cancel.Visible() || f.close.Visible() {
		t.Errorf("edited: Cancel shown %v, Close shown %v", f.cancel.Visible(), f.close.Visible())
	}
	test.Tap(f.cancel)
	if w.shown {
		t.Fatal("Cancel left the window open")
	}
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
	if f.saveMsg.Text != "Saved" || f.banner.Visible() || !f.save.Disabled() {
		t.Errorf("after saving: message %q, banner %v, Save disabled %v (nothing left to save)", f.saveMsg.Text, f.banner.Visible(), f.save.Disabled())
	}
}

func TestSaveErrors(t *testing.T) {
	h := newHarness(t)
	f := h.open()

	// The backend rejects a field: the banner says which and why.
	h.b.errs["UpdateSettings"] = &settings.FieldError{Field: "cache_dir", Value: "/proc/cache", Problem: "cannot be created"}
	f.cacheDir.SetText("/proc/cache")
	test.Tap(f.save)
	h.u.wait()
	if want := `Cache directory "/proc/cache" cannot be created`; !f.banner.Visible() || f.bannerText.Text != want {
		t.Errorf("banner %q (visible %v), want %q", f.bannerText.Text, f.banner.Visible(), want)
	}
	if f.saveMsg.Text == "Saved" {
		t.Error(`"Saved" shown after an error`)
	}

	// A bad listen address, or a relative cache directory, is caught
	// before the backend is asked.
	calls := len(h.b.Calls())
	f.cacheDir.SetText("cache")
	test.Tap(f.save)
	h.u.wait()
	if want := `Cache directory "cache" must be an absolute path`; f.bannerText.Text != want {
		t.Errorf("banner %q, want %q", f.bannerText.Text, want)
	}
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
		{f.testAccount, nil, "TestAccount carol42 s3cret", "Docker Hub accepted the password for carol42", false},
		{f.testAccount, errors.New("the username or password for carol42 was refused by Docker Hub"), "TestAccount carol42 s3cret", "the username or password for carol42 was refused by Docker Hub", false},
		{f.saveAccount, keyringErr(), "SaveAccount carol42 s3cret", keyringAdvice(), false},
		{f.saveAccount, nil, "SaveAccount carol42 s3cret", "Signed in as carol42", true},
		{f.removeAccount, keyringErr(), "RemoveAccount", keyringAdvice(), false},
		{f.removeAccount, nil, "RemoveAccount", "Signed out", true},
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
	if len(h.app.notifications) != 0 {
		t.Errorf("notifications %v: account errors show in the open window only", h.app.notifications)
	}
}

// keyringDown is the text of the error secrets gives when the keyring
// cannot be used; keyringErr is that error as the app hands it to ui.
const keyringDown = "the OS keyring is not available (The name org.freedesktop.secrets was not provided by any .service files): on Linux, run a Secret Service"

func keyringErr() error { return keyringDownError{} }

type keyringDownError struct{}

func (keyringDownError) Error() string { return keyringDown }
func (keyringDownError) Unwrap() error { return ErrKeyringUnavailable }

// A keyring problem is one sentence on what to do, with the keyring's own
// words behind Details, and no notification while the window shows it.
func TestAccountKeyringUnavailable(t *testing.T) {
	h := newHarness(t)
	h.b.errs["Account"] = keyringErr()
	f := h.open()
	if f.accountMsg.Text != keyringAdvice() || f.accountMsg.Importance != widget.DangerImportance {
		t.Errorf("message %q, want the advice %q in red", f.accountMsg.Text, keyringAdvice())
	}
	if strings.Count(f.accountMsg.Text, ". ") > 0 || !strings.Contains(f.accountMsg.Text, "reopen this window") {
		t.Errorf("message %q: want one sentence that says what to do", f.accountMsg.Text)
	}
	if !f.accountDetails.Visible() || f.accountDetail.Text != keyringDown {
		t.Errorf("details shown %v with %q, want the raw error", f.accountDetails.Visible(), f.accountDetail.Text)
	}
	if f.hubUser.Text != "" {
		t.Errorf("user %q, want empty", f.hubUser.Text)
	}
	if len(h.app.notifications) != 0 {
		t.Errorf("notifications %v while the window shows the problem", h.app.notifications)
	}
	// A later success folds the details away.
	delete(h.b.errs, "Account")
	h.u.loadAccount()
	h.u.wait()
	if f.accountDetails.Visible() || f.accountMsg.Importance == widget.DangerImportance {
		t.Errorf("after a good read: details shown %v, message %q", f.accountDetails.Visible(), f.accountMsg.Text)
	}
}

func TestStatusBeforeWindow(t *testing.T) {
	h := newHarness(t)
	h.push(mirror.Status{State: mirror.Failed, Err: inUse})
	f := h.open()
	if f.bannerText.Text != inUse || !f.banner.Visible() {
		t.Errorf("banner %q (visible %v); want the failure that came before the window", f.bannerText.Text, f.banner.Visible())
	}
	h.push(mirror.Status{State: mirror.Stopped, Err: inUse})
	if f.banner.Visible() {
		t.Errorf("banner %q shown while stopped", f.bannerText.Text)
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
