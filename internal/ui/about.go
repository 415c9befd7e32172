package ui

import (
	"net/url"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
)

// aboutTitle is the About window's title, and the tray item's label.
const aboutTitle = "About hubmirror"

// aboutView is the About window: the build, where the app keeps its
// files, and a link to the mirror's landing page.
type aboutView struct {
	win fyne.Window
	// fields holds the values shown, by name: version, commit, settings,
	// cache, log.
	fields  map[string]*widget.Label
	link    *widget.Hyperlink
	showLog *widget.Button
}

// ShowAbout shows the About window, building it on first use, with what
// the backend says, asked off the UI thread.
func (u *App) ShowAbout() {
	if u.openElsewhere(WindowAbout) {
		return
	}
	if u.about == nil {
		u.about = u.buildAbout()
	}
	u.showWin(u.about.win)
	u.run(func() {
		info := u.backend.About()
		listen := u.backend.Settings().Listen
		fyne.Do(func() { u.showAbout(info, listen) })
	})
}

func (u *App) buildAbout() *aboutView {
	v := &aboutView{win: u.app.NewWindow(tr(aboutTitle)), fields: map[string]*widget.Label{}}
	v.win.SetIcon(appIcon)
	rows := []struct{ name, label string }{
		{"version", tr("Version")},
		{"commit", tr("Commit")},
		{"settings", tr("Settings file")},
		{"cache", tr("Cache directory")},
		{"log", tr("Log file")},
	}
	form := widget.NewForm()
	for _, r := range rows {
		l := widget.NewLabel("")
		l.Selectable = true // for copying into a bug report or a terminal
		l.Wrapping = fyne.TextWrapBreak
		v.fields[r.name] = l
		form.Append(r.label, l)
	}
	v.link = widget.NewHyperlink(tr("Landing page"), nil)
	v.link.OnTapped = func() {
		if v.link.URL == nil {
			return
		}
		if err := u.app.OpenURL(v.link.URL); err != nil {
			fyne.LogError("open "+v.link.URL.String(), err)
		}
	}
	v.showLog = widget.NewButton(tr(labelLog), u.ShowLog)
	title := widget.NewLabelWithStyle("hubmirror", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	blurb := widget.NewLabel(tr("A local pull-through mirror of Docker Hub and other registries."))
	closeBtn := widget.NewButton(tr("Close"), v.win.Hide)
	v.win.SetContent(container.NewVBox(title, blurb, form, v.link,
		container.NewHBox(v.showLog, layout.NewSpacer(), closeBtn)))
	v.win.SetCloseIntercept(func() { u.hideWin(v.win) })
	v.win.Resize(fyne.NewSize(560, 0))
	return v
}

// showAbout fills the About window with info; the landing page is where
// the mirror listens, or will listen (listen).
func (u *App) showAbout(info AboutInfo, listen string) {
	v := u.about
	commit := info.Commit
	if commit == "" {
		commit = tr("unknown")
	} else if info.Modified {
		commit += " " + tr("(modified)")
	}
	logFile := info.LogFile
	if logFile == "" {
		logFile = tr("none")
	}
	for name, text := range map[string]string{
		"version": info.Version, "commit": commit, "settings": info.SettingsFile,
		"cache": info.CacheDir, "log": logFile,
	} {
		v.fields[name].SetText(text)
	}
	addr := u.status.Addr
	if addr == "" {
		addr = listen
	}
	link := &url.URL{Scheme: "http", Host: clientsetup.ClientHost(addr), Path: "/"}
	v.link.SetURL(link)
	v.link.SetText(tr("Landing page") + ": " + link.String())
}
