package ui

import (
	"errors"
	"fmt"
	"image/color"
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

	"github.com/hubmirror/hubmirror/proxy"
	"github.com/hubmirror/hubmirror/settings"
)

const (
	windowTitle = "hubmirror settings"
	// authHintText explains why the allow-list is disabled.
	authHintText = "Turn on self_auth to choose who may pull; without it anyone who can reach the port can pull."
)

// settingsForm is the settings window and its widgets.
type settingsForm struct {
	win     fyne.Window
	visible bool

	banner     *fyne.Container // hidden when there is no problem
	bannerText *widget.Label

	// Mirror
	listen        *widget.Entry
	cacheDir      *widget.Entry
	browse        *widget.Button
	startOnLaunch *widget.Check
	openAtLogin   *widget.Check

	// Access
	selfAuth *widget.Check
	authHint *widget.Label // shown while self_auth is off
	newUser  *widget.Entry
	addUser  *widget.Button
	userMsg  *widget.Label // why a name was not added
	userList *widget.List
	users    []string // the allow-list being edited

	// Docker Hub account
	hubUser, hubPassword                    *widget.Entry
	saveAccount, testAccount, removeAccount *widget.Button
	accountMsg                              *widget.Label
	storedUser                              string // the username Account last returned

	// Live status
	state, addr, requests, fromCache, fromUpstream, inFlight, cached, pullsLeft *widget.Label

	save, close *widget.Button
	saveMsg     *widget.Label
	savedGen    int // counts saves, so an old timer does not hide a newer "Saved"

	// base is what the Mirror and Access sections were last filled from:
	// a field that differs from it is one the user edited.
	base settings.Settings
}

// ShowSettings shows the settings window, creating it on first use. A
// window that was hidden is refilled from the settings in force, so
// closing it discards unsaved edits. Closing the window hides it; without
// a tray (see HasTray) it quits instead, as the window is then the app's
// only way in.
func (u *App) ShowSettings() {
	if u.openElsewhere(WindowSettings) {
		return
	}
	if u.form == nil {
		u.form = u.buildForm()
		u.showStatus()
	}
	f := u.form
	if !f.visible {
		u.fillForm(u.backend.Settings())
		u.loadAccount()
		u.updateBanner()
		f.visible = true
	}
	u.showWin(f.win)
}

// closeSettings is the window's close intercept and its Close button.
func (u *App) closeSettings() {
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

	f.bannerText = widget.NewLabel("")
	f.bannerText.Importance = widget.DangerImportance
	f.bannerText.Wrapping = fyne.TextWrapWord
	errIcon := widget.NewIcon(theme.NewErrorThemedResource(theme.ErrorIcon()))
	f.banner = container.NewBorder(nil, widget.NewSeparator(), container.NewCenter(errIcon), nil, f.bannerText)
	f.banner.Hide()

	f.save = widget.NewButtonWithIcon(tr("Save"), theme.DocumentSaveIcon(), u.saveSettings)
	f.save.Importance = widget.HighImportance
	f.close = widget.NewButton(tr("Close"), u.closeSettings)
	f.saveMsg = widget.NewLabel("")
	buttons := container.NewHBox(f.saveMsg, layout.NewSpacer(), f.close, f.save)

	// Two columns, so that everything fits a laptop screen without scrolling.
	sections := container.NewGridWithColumns(2,
		container.NewVBox(
			widget.NewCard(tr("Mirror"), "", u.buildMirrorSection()),
			widget.NewCard(tr("Access"), "", u.buildAccessSection()),
		),
		container.NewVBox(
			widget.NewCard(tr("Docker Hub account"), tr("Pulls made with an account count against its allowance, not the anonymous one."), u.buildAccountSection()),
			widget.NewCard(tr("Live status"), "", u.buildStatusSection()),
		),
	)
	f.win.SetContent(container.NewBorder(f.banner, container.NewPadded(buttons), nil, nil, container.NewVScroll(sections)))
	f.win.Resize(fyne.NewSize(1160, 720))
	return f
}

func (u *App) buildMirrorSection() fyne.CanvasObject {
	f := u.form
	f.listen = widget.NewEntry()
	f.listen.SetPlaceHolder(settings.DefaultListen)
	f.cacheDir = widget.NewEntry()
	f.browse = widget.NewButtonWithIcon("", theme.FolderOpenIcon(), u.chooseCacheDir)
	f.startOnLaunch = widget.NewCheck(tr("Start the mirror when the app starts"), nil)
	f.openAtLogin = widget.NewCheck(tr("Open hubmirror when I log in"), nil)
	form := widget.NewForm(
		&widget.FormItem{Text: tr("Listen address"), Widget: f.listen,
			HintText: tr("127.0.0.1 keeps the mirror to this computer; 0.0.0.0 opens it to the network")},
		&widget.FormItem{Text: tr("Cache directory"), Widget: container.NewBorder(nil, nil, nil, f.browse, f.cacheDir)},
	)
	return container.NewVBox(form, f.startOnLaunch, f.openAtLogin)
}

// chooseCacheDir lets the user pick the cache directory in a folder dialog.
func (u *App) chooseCacheDir() {
	f := u.form
	d := dialog.NewFolderOpen(func(dir fyne.ListableURI, err error) {
		if err != nil || dir == nil {
			return
		}
		f.cacheDir.SetText(dir.Path())
	}, f.win)
	if start, err := storage.ListerForURI(storage.NewFileURI(strings.TrimSpace(f.cacheDir.Text))); err == nil {
		d.SetLocation(start)
	}
	d.Resize(fyne.NewSize(560, 480))
	d.Show()
}

func (u *App) buildAccessSection() fyne.CanvasObject {
	f := u.form
	f.selfAuth = widget.NewCheck(tr("Require docker login (self_auth)"), func(bool) { u.updateAllowList() })
	f.authHint = widget.NewLabel(tr(authHintText))
	f.authHint.Wrapping = fyne.TextWrapWord
	f.authHint.Importance = widget.WarningImportance

	f.newUser = widget.NewEntry()
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
	listArea.SetMinSize(fyne.NewSize(0, 150))

	explain := widget.NewLabel(tr("Only the Docker Hub users listed here may pull through the mirror; with none listed, anyone with a Docker Hub account may."))
	explain.Wrapping = fyne.TextWrapWord
	return container.NewVBox(
		f.selfAuth,
		f.authHint,
		explain,
		container.NewBorder(nil, nil, nil, f.addUser, f.newUser),
		f.userMsg,
		container.NewStack(listArea, f.userList),
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
}

func (u *App) removeAllowedUser(id int) {
	f := u.form
	if id < 0 || id >= len(f.users) {
		return
	}
	f.users = slices.Delete(f.users, id, id+1)
	f.userList.Refresh()
}

func (u *App) buildStatusSection() fyne.CanvasObject {
	f := u.form
	labels := []**widget.Label{&f.state, &f.addr, &f.requests, &f.fromCache, &f.fromUpstream, &f.inFlight, &f.cached, &f.pullsLeft}
	for _, l := range labels {
		*l = widget.NewLabel("")
	}
	return widget.NewForm(
		widget.NewFormItem(tr("State"), f.state),
		widget.NewFormItem(tr("Address"), f.addr),
		widget.NewFormItem(tr("Requests"), f.requests),
		widget.NewFormItem(tr("Sent from the cache"), f.fromCache),
		widget.NewFormItem(tr("Sent from Docker Hub"), f.fromUpstream),
		widget.NewFormItem(tr("Downloads in flight"), f.inFlight),
		widget.NewFormItem(tr("Cache"), f.cached),
		widget.NewFormItem(tr("Docker Hub pulls left"), f.pullsLeft),
	)
}

// showStatus fills the live status section from u.status.
func (u *App) showStatus() {
	f, st := u.form, u.status
	state := map[proxy.State]string{proxy.Running: tr("Running"), proxy.Stopped: tr("Stopped"), proxy.Failed: tr("Failed")}[st.State]
	if state == "" {
		state = string(st.State)
	}
	f.state.SetText(state)
	addr := st.Addr
	if addr == "" {
		addr = tr("not listening")
	}
	f.addr.SetText(addr)
	f.requests.SetText(fmt.Sprint(st.Requests))
	f.fromCache.SetText(proxy.FormatBytes(st.BytesFromCache))
	f.fromUpstream.SetText(proxy.FormatBytes(st.BytesFromUpstream))
	f.inFlight.SetText(fmt.Sprint(st.DownloadsInFlight))
	cached := proxy.FormatBytes(st.CacheBytes) + " " + tr("on disk")
	if rate, ok := hitRate(st.Counters); ok {
		cached += " · " + rate + " " + tr("of requests served from it")
	}
	f.cached.SetText(cached)
	f.pullsLeft.SetText(pullsLeft(st.DockerHubPullsLeft))
}

// updateBanner shows the current problems at the top of the window: the
// last Save or Start error and why the mirror failed.
func (u *App) updateBanner() {
	f := u.form
	var problems []string
	if u.actionErr != "" {
		problems = append(problems, u.actionErr)
	}
	if u.status.State == proxy.Failed && u.status.Err != "" && u.status.Err != u.actionErr {
		problems = append(problems, u.status.Err)
	}
	if u.status.UpstreamProblem != "" {
		problems = append(problems, u.status.UpstreamProblem)
	}
	if len(problems) == 0 {
		f.banner.Hide()
		return
	}
	f.bannerText.SetText(strings.Join(problems, "\n"))
	f.banner.Show()
}

// fillForm shows s in the Mirror and Access sections, with no edits.
func (u *App) fillForm(s settings.Settings) {
	f := u.form
	f.base = s
	u.showValues(s)
	f.newUser.SetText("")
	f.userMsg.Hide()
	f.saveMsg.SetText("")
}

// showValues sets the Mirror and Access fields to s. A field added here
// goes in formSettings and applyEdits too.
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
	f.users = slices.Clone(s.AllowedUsers)
	u.updateAllowList()
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
	s.AllowedUsers = nil
	if len(f.users) > 0 {
		s.AllowedUsers = slices.Clone(f.users)
	}
	return s
}

// saveSettings checks the listen address, then saves the fields edited in
// the form through the backend off the UI thread, over the settings file
// as it is then: the rest of the file stays as others left it.
func (u *App) saveSettings() {
	f := u.form
	s := u.formSettings()
	if err := settings.CheckListen(s.Listen); err != nil {
		u.saveFailed(&settings.FieldError{Field: "listen", Value: s.Listen, Problem: err.Error()})
		return
	}
	shown, base := s, f.base
	f.save.Disable()
	f.saveMsg.SetText(tr("Saving…"))
	u.run(func() {
		saved, err := u.backend.UpdateSettings(func(s *settings.Settings) { applyEdits(s, shown, base) })
		fyne.Do(func() {
			f.save.Enable()
			if err != nil {
				u.saveFailed(err)
				return
			}
			u.showOnDisk(saved)
			u.actionErr = ""
			u.updateBanner()
			u.flashSaved()
		})
	})
}

func (u *App) saveFailed(err error) {
	u.actionErr = describeSaveError(err)
	u.form.saveMsg.SetText("")
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

// fieldLabels names settings fields as the form does.
var fieldLabels = map[string]string{
	"listen":        "Listen address",
	"cache_dir":     "Cache directory",
	"allowed_users": "Allowed user",
	"upstreams":     "Upstream (settings file)",
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
	return fmt.Sprintf("%s %q %s", name, fe.Value, fe.Problem)
}
