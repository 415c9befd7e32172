package ui

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/i18n"
	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

const (
	windowTitle = "hubmirror settings"
	// authHintText explains why the allow-list is disabled.
	authHintText = "Turn on self_auth to choose who may pull; without it anyone who can reach the port can pull."
)

// settingsWindowSize fits the settings window on an 800×600 screen, as
// desktop conventions ask of a preferences window.
var settingsWindowSize = fyne.NewSize(720, 520)

// settingsForm is the settings window and its widgets. The window follows
// one apply model: every setting in it is an edit that does nothing until
// Save, and Cancel or closing without saving drops the edits. The Docker
// Hub account is the exception, see buildAccountSection.
type settingsForm struct {
	win     fyne.Window
	visible bool
	tabs    *container.AppTabs

	banner     *fyne.Container // hidden when there is no problem
	bannerText *widget.Label
	// saveErr is the field error the last Save failed with, nil when it
	// failed otherwise or did not fail: editing that field checks it
	// again, so the banner goes once the problem is fixed.
	saveErr *settings.FieldError

	// General
	listen        *escEntry
	startOnLaunch *toggle
	openAtLogin   *toggle

	// Cache
	cacheDir     *escEntry
	browse       *widget.Button
	resetDir     *widget.Button
	defaultDir   string // settings.Defaults' cache directory; "" when unknown
	openCacheWin *widget.Button

	// Access
	selfAuth      *toggle
	insecureLogin *toggle
	authHint      *widget.Label // shown while self_auth is off
	newUser       *escEntry
	addUser       *widget.Button
	userMsg       *widget.Label // why a name was not added
	userList      *widget.List
	users         []string // the allow-list being edited

	// Docker Hub account; see account.go.
	hubUser, hubPassword                    *escEntry
	saveAccount, testAccount, removeAccount *widget.Button
	accountMsg                              *widget.Label
	accountDetails                          *widget.Accordion // the raw error behind accountMsg
	accountDetail                           *widget.Label
	storedUser                              string // the username Account last returned

	// Clients
	setupClients *widget.Button

	save, cancel, close *widget.Button
	saveMsg             *widget.Label
	savedGen            int // counts saves, so an old timer does not hide a newer "Saved"

	// unsaved is the open "Save your changes?" dialog, nil when none is.
	unsaved *unsavedDialog

	// base is what the fields were last filled from: a field that differs
	// from it is one the user edited.
	base settings.Settings
}

// ShowSettings shows the settings window, creating it on first use. A
// window that was hidden is refilled from the settings in force, so
// closing it discards unsaved edits. Closing the window hides it; without
// a tray (see HasTray) or main window it quits instead, as the window is
// then the app's only way in.
func (u *App) ShowSettings() {
	if u.openElsewhere(WindowSettings) {
		return
	}
	if u.form == nil {
		u.form = u.buildForm()
	}
	f := u.form
	if !f.visible {
		f.visible = true // before loadAccount, whose errors look at it
		u.fillForm(u.backend.Settings())
		u.loadAccount()
		u.updateBanner()
	}
	u.showWin(f.win)
}

// closeSettings is the window's close intercept, Esc and its Close
// button: with unsaved edits it asks whether to save them first.
func (u *App) closeSettings() {
	f := u.form
	if !u.formEdited() {
		u.hideSettings()
		return
	}
	if f.unsaved != nil {
		return // already asking
	}
	f.unsaved = showUnsavedDialog(f.win, func(c unsavedChoice) {
		f.unsaved = nil
		switch c {
		case choiceSave:
			u.saveSettingsThen(u.hideSettings)
		case choiceDiscard:
			u.hideSettings()
		}
	})
}

// cancelSettings is the Cancel button: the user asked to drop the edits,
// so it closes without asking.
func (u *App) cancelSettings() { u.hideSettings() }

// hideSettings hides the window, dropping any edits (ShowSettings fills
// it again), or quits when the window is the app's only way in.
func (u *App) hideSettings() {
	if !u.HasTray() && u.main == nil {
		u.Quit()
		return
	}
	u.form.visible = false
	u.hideWin(u.form.win)
}

func (u *App) buildForm() *settingsForm {
	f := &settingsForm{win: u.app.NewWindow(tr(windowTitle))}
	u.form = f
	f.win.SetIcon(appIcon)
	f.win.SetCloseIntercept(u.closeSettings)
	f.win.Canvas().SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyEscape {
			u.closeSettings()
		}
	})

	f.bannerText = widget.NewLabel("")
	f.bannerText.Importance = widget.DangerImportance
	f.bannerText.Wrapping = fyne.TextWrapWord
	errIcon := widget.NewIcon(theme.NewErrorThemedResource(theme.ErrorIcon()))
	f.banner = container.NewBorder(nil, widget.NewSeparator(), container.NewCenter(errIcon), nil, f.bannerText)
	f.banner.Hide()

	f.save = widget.NewButtonWithIcon(tr("Save"), theme.DocumentSaveIcon(), u.saveSettings)
	f.save.Importance = widget.HighImportance
	f.cancel = widget.NewButton(tr("Cancel"), u.cancelSettings)
	f.close = widget.NewButton(tr("Close"), u.closeSettings)
	f.saveMsg = widget.NewLabel("")
	buttons := container.NewHBox(f.saveMsg, layout.NewSpacer(), f.cancel, f.close, f.save)

	f.tabs = container.NewAppTabs(
		container.NewTabItem(tr("General"), container.NewVScroll(u.buildGeneralSection())),
		container.NewTabItem(tr("Access"), container.NewVScroll(u.buildAccessSection())),
		container.NewTabItem(tr("Docker Hub account"), container.NewVScroll(u.buildAccountSection())),
		container.NewTabItem(tr("Cache"), container.NewVScroll(u.buildCacheSection())),
		container.NewTabItem(tr("Clients"), container.NewVScroll(u.buildClientsSection())),
	)
	u.watchEdits()
	f.win.SetContent(container.NewBorder(f.banner, container.NewPadded(buttons), nil, nil, f.tabs))
	f.win.Resize(settingsWindowSize)
	return f
}

// watchEdits makes every settings control report its changes, once all
// of them exist: formChanged reads them all.
func (u *App) watchEdits() {
	f := u.form
	for _, e := range []*escEntry{f.listen, f.cacheDir} {
		e.OnChanged = func(string) { u.formChanged() }
	}
	for _, t := range []*toggle{f.startOnLaunch, f.openAtLogin, f.insecureLogin} {
		t.OnChanged = func(bool) { u.formChanged() }
	}
	f.selfAuth.OnChanged = func(on bool) {
		u.updateAllowList()
		if on {
			// The next thing to do is type a name: give the entry the
			// keys, so a space typed there cannot reach the switch.
			f.win.Canvas().Focus(f.newUser)
		}
		u.formChanged()
	}
	for _, e := range []*escEntry{f.listen, f.cacheDir, f.newUser, f.hubUser, f.hubPassword} {
		e.onEscape = u.closeSettings
	}
	for _, t := range []*toggle{f.startOnLaunch, f.openAtLogin, f.selfAuth, f.insecureLogin} {
		t.onEscape = u.closeSettings
	}
}

func (u *App) buildGeneralSection() fyne.CanvasObject {
	f := u.form
	f.listen = newEscEntry()
	f.listen.SetPlaceHolder(settings.DefaultListen)
	f.startOnLaunch = newToggle(tr("Start the mirror when the app starts"))
	f.openAtLogin = newToggle(tr("Open hubmirror when I log in"))
	form := widget.NewForm(
		&widget.FormItem{Text: tr("Listen address"), Widget: f.listen,
			HintText: tr("127.0.0.1 keeps the mirror to this computer; 0.0.0.0 opens it to the network")},
	)
	return container.NewVBox(form, f.startOnLaunch, f.openAtLogin)
}

func (u *App) buildCacheSection() fyne.CanvasObject {
	f := u.form
	f.cacheDir = newEscEntry()
	f.browse = widget.NewButtonWithIcon("", theme.FolderOpenIcon(), u.chooseCacheDir)
	f.resetDir = widget.NewButtonWithIcon(tr("Reset to default"), theme.HistoryIcon(), u.resetCacheDir)
	if def, err := settings.Defaults(); err == nil {
		f.defaultDir = def.CacheDir
	}
	f.openCacheWin = widget.NewButtonWithIcon(tr(labelCache), theme.StorageIcon(), u.ShowCache)
	form := widget.NewForm(
		&widget.FormItem{Text: tr("Cache directory"), Widget: container.NewBorder(nil, nil, nil, container.NewHBox(f.browse, f.resetDir), f.cacheDir),
			HintText: tr("A new folder starts empty; the mirror restarts to use it.")},
	)
	more := widget.NewLabel(tr("How full the cache is, pinned images, Verify and Clear are in the Cache window."))
	more.Wrapping = fyne.TextWrapWord
	return container.NewVBox(form, more, container.NewHBox(f.openCacheWin))
}

func (u *App) buildClientsSection() fyne.CanvasObject {
	f := u.form
	text := widget.NewLabel(tr("Docker, containerd, podman, k3s and kind each need a line of configuration to pull through the mirror; the Set up clients window shows it, ready to copy."))
	text.Wrapping = fyne.TextWrapWord
	f.setupClients = widget.NewButtonWithIcon(tr(labelSetup), theme.SettingsIcon(), u.ShowSetup)
	return container.NewVBox(text, container.NewHBox(f.setupClients))
}

// chooseCacheDir lets the user pick the cache directory in a folder
// dialog that starts in the current one, or the nearest folder above it
// that exists.
func (u *App) chooseCacheDir() {
	f := u.form
	d := dialog.NewFolderOpen(func(dir fyne.ListableURI, err error) {
		if err != nil || dir == nil {
			return
		}
		f.cacheDir.SetText(dir.Path())
	}, f.win)
	if dir := existingDir(strings.TrimSpace(f.cacheDir.Text)); dir != "" {
		if start, err := storage.ListerForURI(storage.NewFileURI(dir)); err == nil {
			d.SetLocation(start)
		}
	}
	d.Resize(fyne.NewSize(560, 440))
	d.Show()
}

// existingDir returns dir or the nearest of its parents that is a
// directory, "" when dir is not absolute or none is.
func existingDir(dir string) string {
	if !filepath.IsAbs(dir) {
		return ""
	}
	for {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// resetCacheDir puts the default cache directory in the field; like any
// edit it waits for Save.
func (u *App) resetCacheDir() {
	f := u.form
	if f.defaultDir != "" {
		f.cacheDir.SetText(f.defaultDir)
	}
}

func (u *App) buildAccessSection() fyne.CanvasObject {
	f := u.form
	f.selfAuth = newToggle(tr("Require docker login (self_auth)"))
	f.insecureLogin = newToggle(tr("Let other computers log in over plain HTTP (insecure_login)"))
	insecureHint := widget.NewLabel(tr("Their passwords then cross the network unencrypted; turn on TLS instead where you can."))
	insecureHint.Wrapping = fyne.TextWrapWord
	insecureHint.Importance = widget.LowImportance
	f.authHint = widget.NewLabel(tr(authHintText))
	f.authHint.Wrapping = fyne.TextWrapWord
	f.authHint.Importance = widget.WarningImportance

	f.newUser = newEscEntry()
	f.newUser.SetPlaceHolder(tr("Docker Hub username"))
	f.newUser.OnSubmitted = func(string) { u.addAllowedUser() }
	f.addUser = widget.NewButtonWithIcon(tr("Add"), theme.ContentAddIcon(), u.addAllowedUser)
	f.userMsg = widget.NewLabel("")
	f.userMsg.Importance = widget.DangerImportance
	f.userMsg.Wrapping = fyne.TextWrapWord
	f.userMsg.Hide()

	f.userList = widget.NewList(
		func() int { return len(f.users) },
		func() fyne.CanvasObject {
			remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), nil)
			remove.Importance = widget.LowImportance
			return container.NewBorder(nil, nil, nil, remove, widget.NewLabel(""))
		},
		func(id widget.ListItemID, row fyne.CanvasObject) {
			label, remove := rowParts(row)
			if id >= len(f.users) {
				return
			}
			label.SetText(f.users[id])
			remove.OnTapped = func() { u.removeAllowedUser(id) }
			if f.selfAuth.Checked {
				remove.Enable()
			} else {
				remove.Disable()
			}
		})
	f.userList.OnSelected = func(id widget.ListItemID) { f.userList.Unselect(id) }
	// A List's minimum height is one row; keep room for a few.
	listArea := canvas.NewRectangle(color.Transparent)
	listArea.SetMinSize(fyne.NewSize(0, 130))

	explain := widget.NewLabel(tr("Only the Docker Hub users listed here may pull through the mirror; with none listed, anyone with a Docker Hub account may."))
	explain.Wrapping = fyne.TextWrapWord
	// The add-user row is always there, disabled while self_auth is off,
	// and the hint that comes and goes sits below it: turning self_auth
	// on moves nothing the user is about to click.
	return container.NewVBox(
		f.selfAuth,
		explain,
		container.NewBorder(nil, nil, nil, f.addUser, f.newUser),
		f.userMsg,
		container.NewStack(listArea, f.userList),
		f.authHint,
		widget.NewSeparator(),
		f.insecureLogin,
		insecureHint,
	)
}

// rowParts returns the label and remove button of an allow-list row.
func rowParts(row fyne.CanvasObject) (*widget.Label, *widget.Button) {
	var label *widget.Label
	var remove *widget.Button
	for _, o := range row.(*fyne.Container).Objects {
		switch o := o.(type) {
		case *widget.Label:
			label = o
		case *widget.Button:
			remove = o
		}
	}
	return label, remove
}

// updateAllowList enables the allow-list only while self_auth is on.
func (u *App) updateAllowList() {
	f := u.form
	if f.selfAuth.Checked {
		f.authHint.Hide()
		f.newUser.Enable()
		f.addUser.Enable()
	} else {
		f.authHint.Show()
		f.newUser.Disable()
		f.addUser.Disable()
		f.userMsg.Hide()
	}
	f.userList.Refresh()
}

// addAllowedUser adds the typed name to the allow-list, or says why not.
func (u *App) addAllowedUser() {
	f := u.form
	name := strings.TrimSpace(f.newUser.Text)
	problem := ""
	if name == "" {
		problem = tr("Type a Docker Hub username first.")
	} else if err := settings.CheckUsername(name); err != nil {
		problem = fmt.Sprintf("%q %v", name, err)
	} else if slices.Contains(f.users, name) {
		problem = name + " " + tr("is already listed.")
	}
	if problem != "" {
		f.userMsg.SetText(problem)
		f.userMsg.Show()
		return
	}
	f.users = append(f.users, name)
	f.userList.Refresh()
	f.userList.ScrollToBottom()
	f.newUser.SetText("")
	f.userMsg.Hide()
	u.formChanged()
}

func (u *App) removeAllowedUser(id int) {
	f := u.form
	if id < 0 || id >= len(f.users) {
		return
	}
	f.users = slices.Delete(f.users, id, id+1)
	f.userList.Refresh()
	u.formChanged()
}

// updateBanner shows the current problems at the top of the window: the
// last Save or Start error and why the mirror failed.
func (u *App) updateBanner() {
	f := u.form
	var problems []string
	// Each is made in English and shown in the window's language.
	if u.actionErr != "" {
		problems = append(problems, tr(u.actionErr))
	}
	if u.status.State == mirror.Failed && u.status.Err != "" && u.status.Err != u.actionErr {
		problems = append(problems, tr(u.status.Err))
	}
	if u.status.UpstreamProblem != "" {
		problems = append(problems, tr(u.status.UpstreamProblem))
	}
	if len(problems) == 0 {
		f.banner.Hide()
		return
	}
	f.bannerText.SetText(strings.Join(problems, "\n"))
	f.banner.Show()
}

// fillForm shows s in every settings field, with no edits.
func (u *App) fillForm(s settings.Settings) {
	f := u.form
	f.base = s
	u.showValues(s)
	f.newUser.SetText("")
	f.userMsg.Hide()
	f.saveMsg.SetText("")
	if f.saveErr != nil {
		u.clearSaveError() // the edit it was about is gone
	}
	u.formChanged()
}

// showValues sets the settings fields to s. A field added here goes in
// formSettings and applyEdits too.
func (u *App) showValues(s settings.Settings) {
	f := u.form
	if f.listen.Text != s.Listen {
		f.listen.SetText(s.Listen)
	}
	if f.cacheDir.Text != s.CacheDir {
		f.cacheDir.SetText(s.CacheDir)
	}
	f.startOnLaunch.SetChecked(s.StartOnLaunch)
	f.openAtLogin.SetChecked(s.OpenAtLogin)
	f.selfAuth.SetChecked(s.SelfAuth)
	f.insecureLogin.SetChecked(s.InsecureLogin)
	f.users = slices.Clone(s.AllowedUsers)
	u.updateAllowList()
	u.formChanged()
}

// formSettings returns the settings the form was filled from with the
// form's changes.
func (u *App) formSettings() settings.Settings {
	f := u.form
	s := f.base
	s.Listen = strings.TrimSpace(f.listen.Text)
	s.CacheDir = strings.TrimSpace(f.cacheDir.Text)
	s.StartOnLaunch = f.startOnLaunch.Checked
	s.OpenAtLogin = f.openAtLogin.Checked
	s.SelfAuth = f.selfAuth.Checked
	s.InsecureLogin = f.insecureLogin.Checked
	s.AllowedUsers = nil
	if len(f.users) > 0 {
		s.AllowedUsers = slices.Clone(f.users)
	}
	return s
}

// formEdited reports whether any field differs from what the form was
// filled from: whether there is something to save or lose.
func (u *App) formEdited() bool {
	f := u.form
	if f == nil || f.listen == nil {
		return false
	}
	edited := f.base
	applyEdits(&edited, u.formSettings(), f.base)
	return !reflect.DeepEqual(edited, f.base)
}

// formChanged follows an edit: Save and Cancel are offered only while
// there is something to save, and a save error about a field is checked
// again once that field changes.
func (u *App) formChanged() {
	f := u.form
	if f == nil || f.save == nil {
		return // still being built
	}
	if u.formEdited() {
		f.save.Enable()
		f.cancel.Show()
		f.close.Hide()
		if f.saveMsg.Text == tr("Saved") {
			f.saveMsg.SetText("")
		}
	} else {
		f.save.Disable()
		f.cancel.Hide()
		f.close.Show()
	}
	u.recheckSaveError()
	if f.resetDir != nil {
		if f.defaultDir == "" || strings.TrimSpace(f.cacheDir.Text) == f.defaultDir {
			f.resetDir.Disable()
		} else {
			f.resetDir.Enable()
		}
	}
}

// recheckSaveError validates the form again once the field the last
// Save failed on has changed: the banner then shows the field's new
// problem, or goes.
func (u *App) recheckSaveError() {
	f := u.form
	fe := f.saveErr
	if fe == nil {
		return
	}
	s := u.formSettings()
	if stillFailing(s, fe) {
		return // not edited since the error
	}
	var again *settings.FieldError
	if errors.As(s.Validate(), &again) && again.Field == fe.Field {
		f.saveErr = again
		u.actionErr = describeSaveError(again)
		u.updateBanner()
		return
	}
	u.clearSaveError()
}

// clearSaveError drops the last Save's error from the banner.
func (u *App) clearSaveError() {
	f := u.form
	if f.saveErr != nil && u.actionErr == describeSaveError(f.saveErr) {
		u.actionErr = ""
	}
	f.saveErr = nil
	u.updateBanner()
}

// stillFailing reports whether s still holds the value fe was about: the
// field was not edited since. For a field the form does not show it
// reports true, so the error stays until the next Save.
func stillFailing(s settings.Settings, fe *settings.FieldError) bool {
	switch fe.Field {
	case "listen":
		return s.Listen == fe.Value
	case "cache_dir":
		return s.CacheDir == fe.Value
	case "allowed_users":
		return slices.Contains(s.AllowedUsers, fe.Value)
	}
	return true
}

// saveSettings is the Save button.
func (u *App) saveSettings() { u.saveSettingsThen(nil) }

// saveSettingsThen checks the form, then saves the fields edited in it
// through the backend off the UI thread, over the settings file as it is
// then: the rest of the file stays as others left it. After a good save
// it calls then, if set.
func (u *App) saveSettingsThen(then func()) {
	f := u.form
	s := u.formSettings()
	var fe *settings.FieldError
	if errors.As(s.Validate(), &fe) && slices.Contains([]string{"listen", "cache_dir", "allowed_users"}, fe.Field) {
		u.saveFailed(fe)
		return
	}
	shown, base := s, f.base
	f.save.Disable()
	f.saveMsg.SetText(tr("Saving…"))
	u.run(func() {
		saved, err := u.backend.UpdateSettings(func(s *settings.Settings) { applyEdits(s, shown, base) })
		fyne.Do(func() {
			if err != nil {
				u.saveFailed(err)
				u.formChanged()
				return
			}
			u.showOnDisk(saved)
			u.actionErr = ""
			f.saveErr = nil
			u.updateBanner()
			u.formChanged()
			u.flashSaved()
			if then != nil {
				then()
			}
		})
	})
}

// saveFailed shows why Save failed; a field error is remembered so that
// fixing the field clears it.
func (u *App) saveFailed(err error) {
	f := u.form
	f.saveErr = nil
	var fe *settings.FieldError
	if errors.As(err, &fe) {
		c := *fe
		f.saveErr = &c
	}
	u.actionErr = describeSaveError(err)
	f.saveMsg.SetText("")
	u.updateBanner()
}

// flashSaved shows "Saved" for a few seconds.
func (u *App) flashSaved() {
	f := u.form
	f.savedGen++
	gen := f.savedGen
	f.saveMsg.SetText(tr("Saved"))
	time.AfterFunc(u.savedFor, func() {
		fyne.Do(func() {
			if f.savedGen == gen && f.saveMsg.Text == tr("Saved") {
				f.saveMsg.SetText("")
			}
		})
	})
}

// fieldLabels names settings fields as the form does; describeSaveError
// translates them, and i18n.Key marks them for the catalog's scan.
var fieldLabels = map[string]string{
	"listen":        i18n.Key("Listen address"),
	"cache_dir":     i18n.Key("Cache directory"),
	"allowed_users": i18n.Key("Allowed user"),
	"upstreams":     i18n.Key("Upstream (settings file)"),
}

// describeSaveError says what is wrong with a setting in the form's words.
func describeSaveError(err error) string {
	var fe *settings.FieldError
	if !errors.As(err, &fe) {
		return err.Error()
	}
	name, ok := fieldLabels[fe.Field]
	if !ok {
		name = fe.Field
	}
	name = tr(name)
	return fmt.Sprintf("%s %q %s", name, fe.Value, tr(fe.Problem))
}

// unsavedChoice is the answer to "Save your changes?".
type unsavedChoice int

const (
	choiceCancel  unsavedChoice = iota // keep the window and the edits
	choiceDiscard                      // close and drop the edits
	choiceSave                         // save, then close
)

// unsavedDialog asks, when the window is closed with edits, whether to
// save them, drop them or go back: Fyne's confirm dialog has two buttons
// only. Its buttons are kept for tests.
type unsavedDialog struct {
	d                     *dialog.CustomDialog
	save, discard, cancel *widget.Button
}

// showUnsavedDialog shows the question over parent; answer gets the
// choice once.
func showUnsavedDialog(parent fyne.Window, answer func(unsavedChoice)) *unsavedDialog {
	msg := widget.NewLabel(tr("Some settings were changed but not saved. Save them before closing?"))
	msg.Wrapping = fyne.TextWrapWord
	v := &unsavedDialog{}
	v.d = dialog.NewCustomWithoutButtons(tr("Save your changes?"), msg, parent)
	choose := func(c unsavedChoice) func() {
		return func() {
			v.d.Hide()
			answer(c)
		}
	}
	v.cancel = widget.NewButton(tr("Cancel"), choose(choiceCancel))
	v.discard = widget.NewButtonWithIcon(tr("Discard"), theme.DeleteIcon(), choose(choiceDiscard))
	v.save = widget.NewButtonWithIcon(tr("Save"), theme.DocumentSaveIcon(), choose(choiceSave))
	v.save.Importance = widget.HighImportance
	v.d.SetButtons([]fyne.CanvasObject{v.cancel, v.discard, v.save})
	v.d.Resize(fyne.NewSize(420, 0))
	v.d.Show()
	return v
}

// escEntry is an Entry that passes Esc on: Fyne gives keys to the focused
// widget only, so a window's own Esc handler never hears it while the
// user is typing.
type escEntry struct {
	widget.Entry
	onEscape func() // nil: Esc does what it does in an Entry
}

// newEscEntry returns an empty escEntry.
func newEscEntry() *escEntry {
	e := &escEntry{}
	e.ExtendBaseWidget(e)
	return e
}

// newEscPasswordEntry returns an escEntry that hides what is typed and
// has the usual button to show it.
func newEscPasswordEntry() *escEntry {
	e := &escEntry{}
	e.Password = true
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey hands Esc to onEscape and the rest to the Entry.
func (e *escEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(ev)
}

// toggle is an on/off switch with a label, for settings that are on or
// off: Fyne 2.7 has none. Unlike widget.Check it does not take the
// keyboard focus when clicked (Tab still reaches it), so text the user
// types after clicking it cannot toggle it back; space toggles it when it
// has the focus, and Esc goes to onEscape.
type toggle struct {
	widget.DisableableWidget
	Text    string
	Checked bool
	// OnChanged is called when the user turns the switch, not by
	// SetChecked: code that sets it knows it did.
	OnChanged func(on bool)

	onEscape func()
	focused  bool
}

// newToggle returns a switch that is off.
func newToggle(text string) *toggle {
	t := &toggle{Text: text}
	t.ExtendBaseWidget(t)
	return t
}

// SetChecked shows on without calling OnChanged.
func (t *toggle) SetChecked(on bool) {
	if t.Checked == on {
		return
	}
	t.Checked = on
	t.Refresh()
}

// flip turns the switch as the user asked.
func (t *toggle) flip() {
	if t.Disabled() {
		return
	}
	t.Checked = !t.Checked
	t.Refresh()
	if t.OnChanged != nil {
		t.OnChanged(t.Checked)
	}
}

// Tapped flips the switch.
func (t *toggle) Tapped(*fyne.PointEvent) { t.flip() }

// FocusGained and FocusLost show the focus ring.
func (t *toggle) FocusGained() { t.focused = true; t.Refresh() }
func (t *toggle) FocusLost()   { t.focused = false; t.Refresh() }

// TypedRune flips the switch on space.
func (t *toggle) TypedRune(r rune) {
	if r == ' ' {
		t.flip()
	}
}

// TypedKey passes Esc on to onEscape.
func (t *toggle) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && t.onEscape != nil {
		t.onEscape()
	}
}

// CreateRenderer draws a track with a knob, then the label.
func (t *toggle) CreateRenderer() fyne.WidgetRenderer {
	r := &toggleRenderer{t: t, track: canvas.NewRectangle(color.Transparent), knob: canvas.NewCircle(color.White), label: widget.NewLabel(t.Text)}
	r.Refresh()
	return r
}

// toggleRenderer lays a toggle out: the track, its knob at the left (off)
// or right (on), and the label after them.
type toggleRenderer struct {
	t     *toggle
	track *canvas.Rectangle
	knob  *canvas.Circle
	label *widget.Label
}

// trackSize is the switch's size, from the theme's inline icon size.
func trackSize() fyne.Size {
	h := theme.IconInlineSize()
	return fyne.NewSize(h*1.8, h)
}

func (r *toggleRenderer) Layout(size fyne.Size) {
	ts := trackSize()
	pad := theme.Padding()
	r.track.Resize(ts)
	r.track.Move(fyne.NewPos(pad, (size.Height-ts.Height)/2))
	inset := ts.Height * 0.15
	d := ts.Height - 2*inset
	x := pad + inset
	if r.t.Checked {
		x = pad + ts.Width - inset - d
	}
	r.knob.Resize(fyne.NewSize(d, d))
	r.knob.Move(fyne.NewPos(x, r.track.Position().Y+inset))
	left := pad + ts.Width
	r.label.Resize(fyne.NewSize(size.Width-left, size.Height))
	r.label.Move(fyne.NewPos(left, 0))
}

func (r *toggleRenderer) MinSize() fyne.Size {
	ts := trackSize()
	l := r.label.MinSize()
	return fyne.NewSize(theme.Padding()+ts.Width+l.Width, max(ts.Height+2*theme.Padding(), l.Height))
}

func (r *toggleRenderer) Refresh() {
	t := r.t
	r.label.SetText(t.Text)
	trackColor, knobColor := theme.Color(theme.ColorNameInputBorder), theme.Color(theme.ColorNameBackground)
	switch {
	case t.Disabled():
		trackColor, knobColor = theme.Color(theme.ColorNameDisabledButton), theme.Color(theme.ColorNameDisabled)
		r.label.Importance = widget.LowImportance
	case t.Checked:
		trackColor, knobColor = theme.Color(theme.ColorNamePrimary), theme.Color(theme.ColorNameForegroundOnPrimary)
		r.label.Importance = widget.MediumImportance
	default:
		r.label.Importance = widget.MediumImportance
	}
	r.track.FillColor = trackColor
	r.track.CornerRadius = trackSize().Height / 2
	r.track.StrokeWidth = 0
	if t.focused {
		r.track.StrokeColor = theme.Color(theme.ColorNameFocus)
		r.track.StrokeWidth = 2
	}
	r.knob.FillColor = knobColor
	r.track.Refresh()
	r.knob.Refresh()
	r.label.Refresh()
	r.Layout(t.Size())
}

func (r *toggleRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.track, r.knob, r.label}
}

func (r *toggleRenderer) Destroy() {}
