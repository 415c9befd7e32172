package ui

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/hubmirror/hubmirror/internal/settings"
)

// typeFocused types s as the desktop driver delivers keys: each rune to
// the focused widget, or to the canvas's handler when nothing has the
// focus. test.Type cannot show a focus bug, as it types into the widget
// it is given whatever has the focus.
func typeFocused(c fyne.Canvas, s string) {
	for _, r := range s {
		if f := c.Focused(); f != nil {
			f.TypedRune(r)
		} else if h := c.OnTypedRune(); h != nil {
			h(r)
		}
	}
}

// pressKey presses key as the desktop driver delivers it: to the focused
// widget, or to the canvas's handler when nothing has the focus.
func pressKey(c fyne.Canvas, key fyne.KeyName) {
	ev := &fyne.KeyEvent{Name: key}
	if f := c.Focused(); f != nil {
		f.TypedKey(ev)
	} else if h := c.OnTypedKey(); h != nil {
		h(ev)
	}
}

// savingCalls returns the calls that write settings.
func savingCalls(b *fakeBackend) []string {
	var out []string
	for _, c := range b.Calls() {
		if c == "UpdateSettings" || c == "SaveSettings" {
			out = append(out, c)
		}
	}
	return out
}

// TestApplyModel: editing any field, switch or the allow-list writes
// nothing; Save writes once, through UpdateSettings, the edited fields
// only, over the file as it is then.
func TestApplyModel(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	f.listen.SetText("0.0.0.0:5001")
	f.cacheDir.SetText("/srv/hubmirror")
	for _, sw := range []*toggle{f.startOnLaunch, f.openAtLogin, f.selfAuth, f.insecureLogin} {
		test.Tap(sw)
	}
	test.Type(f.newUser, "carol42")
	test.Tap(f.addUser)
	test.Tap(removeButton(t, f, "alice"))
	h.u.wait()
	if c := savingCalls(h.b); len(c) != 0 || len(h.b.saved) != 0 {
		t.Fatalf("edits wrote %q before Save", c)
	}
	if f.save.Disabled() {
		t.Error("Save disabled with edits")
	}

	// Undoing an edit leaves it out of the save; a field changed in the
	// file meanwhile is kept.
	test.Tap(f.openAtLogin)
	h.b.mu.Lock()
	h.b.settings.Pinned = []string{"alpine:3.20"}
	h.b.settings.OpenAtLogin = true
	h.b.mu.Unlock()

	test.Tap(f.save)
	h.u.wait()
	if c := savingCalls(h.b); !slices.Equal(c, []string{"UpdateSettings"}) {
		t.Fatalf("Save made %q, want one UpdateSettings", c)
	}
	want := settings.Settings{
		Listen:        "0.0.0.0:5001",
		CacheDir:      "/srv/hubmirror",
		Upstreams:     map[string]string{"ghcr.io": "https://ghcr.io"},
		SelfAuth:      true,
		InsecureLogin: true,
		AllowedUsers:  []string{"bob1", "carol42"},
		StartOnLaunch: false,
		OpenAtLogin:   true,
		Pinned:        []string{"alpine:3.20"},
	}
	if !reflect.DeepEqual(h.b.saved[0], want) {
		t.Errorf("saved %+v, want %+v", h.b.saved[0], want)
	}
	if !f.save.Disabled() || f.saveMsg.Text != "Saved" {
		t.Errorf("after Save: Save disabled %v, message %q", f.save.Disabled(), f.saveMsg.Text)
	}
}

// openDialog closes the window with an edit and returns the question.
func openDialog(t *testing.T, h *harness, f *settingsForm, listen string) *unsavedDialog {
	t.Helper()
	f.listen.SetText(listen)
	h.window().userClose()
	if f.unsaved == nil {
		t.Fatal("closing with an edit did not ask")
	}
	if !h.window().shown {
		t.Fatal("the window went while asking")
	}
	return f.unsaved
}

// TestUnsavedPrompt: closing with edits asks Save / Discard / Cancel;
// Cancel keeps the window and the edit, Discard drops it, Save saves.
func TestUnsavedPrompt(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	f := h.open()
	w := h.window()

	// Without edits closing does not ask.
	w.userClose()
	if f.unsaved != nil || w.shown {
		t.Fatalf("no edits: asked %v, shown %v", f.unsaved != nil, w.shown)
	}
	h.open()

	d := openDialog(t, h, f, "127.0.0.1:5001")
	labels := []string{d.cancel.Text, d.discard.Text, d.save.Text}
	if !slices.Equal(labels, []string{"Cancel", "Discard", "Save"}) {
		t.Errorf("buttons %q", labels)
	}
	// Closing again while asking asks nothing more.
	w.userClose()
	if f.unsaved != d {
		t.Error("a second close opened a second question")
	}

	test.Tap(d.cancel)
	if !w.shown || f.listen.Text != "127.0.0.1:5001" || f.unsaved != nil {
		t.Errorf("Cancel: shown %v, listen %q, still asking %v; want the window and the edit kept", w.shown, f.listen.Text, f.unsaved != nil)
	}

	d = openDialog(t, h, f, "127.0.0.1:5002")
	test.Tap(d.discard)
	h.u.wait()
	if w.shown || len(savingCalls(h.b)) != 0 {
		t.Errorf("Discard: shown %v, calls %q; want hidden, nothing saved", w.shown, savingCalls(h.b))
	}
	h.open()
	if f.listen.Text != "127.0.0.1:5000" {
		t.Errorf("after Discard the window shows %q, want the saved address", f.listen.Text)
	}

	d = openDialog(t, h, f, "127.0.0.1:5003")
	test.Tap(d.save)
	h.u.wait()
	if w.shown || len(h.b.saved) != 1 || h.b.saved[0].Listen != "127.0.0.1:5003" {
		t.Errorf("Save: shown %v, saved %+v; want the edit saved and the window hidden", w.shown, h.b.saved)
	}

	// A Save that fails keeps the window, with the problem shown.
	h.open()
	h.b.errs["UpdateSettings"] = errors.New("disk full")
	d = openDialog(t, h, f, "127.0.0.1:5004")
	test.Tap(d.save)
	h.u.wait()
	if !w.shown || !f.banner.Visible() {
		t.Errorf("failed Save: shown %v, banner %v; want the window kept with the problem", w.shown, f.banner.Visible())
	}
}

// TestEscCloses: Esc closes the window, from the canvas or from an entry
// being typed in, and asks first when there are edits.
func TestEscCloses(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	f := h.open()
	w := h.window()
	c := w.Canvas()

	pressKey(c, fyne.KeyEscape)
	if w.shown {
		t.Fatal("Esc with nothing focused left the window open")
	}

	h.open()
	c.Focus(f.listen)
	pressKey(c, fyne.KeyEscape)
	if w.shown {
		t.Fatal("Esc in the listen entry left the window open")
	}

	h.open()
	f.tabs.SelectIndex(1) // Access
	test.Tap(f.selfAuth)  // an edit; the focus goes to the name entry
	typeFocused(c, "dave")
	if c.Focused() != f.newUser {
		t.Fatal("the name entry does not have the focus")
	}
	pressKey(c, fyne.KeyEscape)
	if f.unsaved == nil || !w.shown {
		t.Fatalf("Esc with edits: asked %v, shown %v; want the question", f.unsaved != nil, w.shown)
	}
	test.Tap(f.unsaved.cancel)
	if !w.shown || !f.selfAuth.Checked {
		t.Errorf("Cancel after Esc: shown %v, self_auth %v", w.shown, f.selfAuth.Checked)
	}
}

// TestSpaceAfterSelfAuth: turning self_auth on, by click or by Space,
// hands the keys to the name entry, so a name typed with a space goes
// there and does not turn self_auth off again.
func TestSpaceAfterSelfAuth(t *testing.T) {
	for _, how := range []string{"click", "space"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			f := h.open()
			c := h.window().Canvas()
			f.tabs.SelectIndex(1) // Access, where the user is
			if how == "click" {
				test.Tap(f.selfAuth)
			} else {
				c.Focus(f.selfAuth)
				typeFocused(c, " ")
			}
			if !f.selfAuth.Checked {
				t.Fatal("self_auth did not turn on")
			}
			typeFocused(c, "carol 42")
			if !f.selfAuth.Checked {
				t.Error("typing a space after turning self_auth on turned it off")
			}
			if f.newUser.Text != "carol 42" {
				t.Errorf("name entry has %q, want what was typed", f.newUser.Text)
			}
		})
	}
}

// TestBannerClearsWhenFixed: a Save error about a field goes once the
// field is fixed, before the next Save; a new problem in the field
// replaces it.
func TestBannerClearsWhenFixed(t *testing.T) {
	h := newHarness(t)
	f := h.open()

	f.listen.SetText("localhost")
	test.Tap(f.save)
	h.u.wait()
	if !f.banner.Visible() || !strings.HasPrefix(f.bannerText.Text, `Listen address "localhost"`) {
		t.Fatalf("banner %q (visible %v), want the listen problem", f.bannerText.Text, f.banner.Visible())
	}
	f.listen.SetText("localhost:")
	if !f.banner.Visible() || !strings.HasPrefix(f.bannerText.Text, `Listen address "localhost:"`) {
		t.Errorf("still wrong: banner %q (visible %v), want the new value's problem", f.bannerText.Text, f.banner.Visible())
	}
	f.listen.SetText("127.0.0.1:5001")
	if f.banner.Visible() {
		t.Errorf("banner %q after fixing the address", f.bannerText.Text)
	}

	// An error from the backend goes when its field is edited.
	h.b.errs["UpdateSettings"] = &settings.FieldError{Field: "cache_dir", Value: "/proc/cache", Problem: "cannot be created"}
	f.cacheDir.SetText("/proc/cache")
	test.Tap(f.save)
	h.u.wait()
	if !f.banner.Visible() {
		t.Fatal("no banner for the backend's error")
	}
	f.listen.SetText("127.0.0.1:5002") // another field: the error stays
	if !f.banner.Visible() {
		t.Error("editing another field cleared the cache_dir error")
	}
	f.cacheDir.SetText("/srv/cache")
	if f.banner.Visible() {
		t.Errorf("banner %q after changing the cache directory", f.bannerText.Text)
	}
	// Cancel drops the edit, and so the error with it.
	f.cacheDir.SetText("/proc/cache")
	test.Tap(f.save)
	h.u.wait()
	h.u.fillForm(h.b.Settings())
	if f.banner.Visible() {
		t.Errorf("banner %q after the edits were dropped", f.bannerText.Text)
	}
}

// TestResetCacheDir: Reset to default puts the default folder in the
// field, as an edit that waits for Save, and is off when it is there.
func TestResetCacheDir(t *testing.T) {
	h := newHarness(t)
	f := h.open()
	def, err := settings.Defaults()
	if err != nil {
		t.Skip("no default settings here:", err)
	}
	if f.resetDir.Disabled() {
		t.Fatal("Reset to default disabled with another folder set")
	}
	test.Tap(f.resetDir)
	if f.cacheDir.Text != def.CacheDir || !f.resetDir.Disabled() || f.save.Disabled() {
		t.Errorf("after reset: folder %q (want %q), reset disabled %v, Save disabled %v", f.cacheDir.Text, def.CacheDir, f.resetDir.Disabled(), f.save.Disabled())
	}
	if len(savingCalls(h.b)) != 0 {
		t.Error("Reset to default saved at once")
	}
	if got := existingDir(t.TempDir() + "/not/yet"); got == "" || strings.HasSuffix(got, "/not/yet") {
		t.Errorf("existingDir of a missing folder = %q, want its nearest existing parent", got)
	}
	if got := existingDir("relative"); got != "" {
		t.Errorf("existingDir(relative) = %q", got)
	}
}

// TestTestStoredAccount: Test with the password field empty tests the
// stored account (TestAccount with the stored user and ""), and shows the
// result in the window; a notification only when the window has gone.
func TestTestStoredAccount(t *testing.T) {
	h := newHarness(t)
	h.withTray()
	f := h.open()
	if f.hubUser.Text != "alice" || f.hubPassword.Text != "" {
		t.Fatalf("form shows %q / %q, want the stored user and no password", f.hubUser.Text, f.hubPassword.Text)
	}
	test.Tap(f.testAccount)
	h.u.wait()
	calls := h.b.Calls()
	if last := calls[len(calls)-1]; last != "TestAccount alice " {
		t.Errorf("last call %q, want TestAccount with alice and no password", last)
	}
	if f.accountMsg.Text != "Docker Hub accepted the stored password for alice." {
		t.Errorf("message %q", f.accountMsg.Text)
	}

	refused := "the username or password for alice was refused by Docker Hub"
	h.b.errs["TestAccount"] = errors.New(refused)
	test.Tap(f.testAccount)
	h.u.wait()
	if f.accountMsg.Text != refused || len(h.app.notifications) != 0 {
		t.Errorf("refused: message %q, notifications %v; want it in the window only", f.accountMsg.Text, h.app.notifications)
	}

	// Another user with no password cannot use the stored one.
	f.hubUser.SetText("carol42")
	n := len(h.b.Calls())
	test.Tap(f.testAccount)
	h.u.wait()
	if len(h.b.Calls()) != n || !strings.Contains(f.accountMsg.Text, "password") {
		t.Errorf("another user: calls %q, message %q", h.b.Calls()[n:], f.accountMsg.Text)
	}

	// The window closes while Docker Hub is asked: the refusal is a
	// notification.
	f.hubUser.SetText("alice")
	h.b.block = make(chan struct{})
	test.Tap(f.testAccount)
	h.window().userClose()
	close(h.b.block)
	h.u.wait()
	if len(h.app.notifications) != 1 || h.app.notifications[0].Content != refused {
		t.Errorf("notifications %v, want the refusal once the window is closed", h.app.notifications)
	}
}
