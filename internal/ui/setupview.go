package ui

import (
	"strings"

	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/clientsetup"
	"github.com/hubmirror/hubmirror/internal/i18n"
)

// clientTabs are the Setup window's tabs, one per client, in clientsetup.Clients
// order.
var clientTabs = map[string]string{
	"docker": "Docker", "containerd": "containerd", "podman": "podman / skopeo",
	"k3s": "k3s", "kind": "kind", "pull": "Pull examples", // translated when shown
}

// setupLang is the language of the Setup window's snippet titles and
// notes: the windows' own (uiLang).
func setupLang() i18n.Lang { return uiLang() }

// setupPane is the Setup window's content. It is a widget of its own so
// that what a rebuild must carry over stays with the window: the tab the
// user was on, and a confirmation that is still showing.
type setupPane struct {
	widget.BaseWidget
	content fyne.CanvasObject
	tabs    *container.AppTabs
	tabOf   map[string]*container.TabItem // the tab of each client

	notice      *widget.Label     // "Copied the Docker setup for …"
	noticeRow   fyne.CanvasObject // the notice with its icon; hidden when there is none
	noticeUntil time.Time         // when the notice goes
}

// CreateRenderer shows the pane's content.
func (p *setupPane) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(p.content)
}

// ShowSetup shows the Setup window: copy-ready configuration for every
// client, naming the mirror's current address. It is the landing page's
// and `hubmirror setup`'s set-up, with a Copy button on each snippet.
func (u *App) ShowSetup() {
	if u.openElsewhere(WindowSetup) {
		return
	}
	u.showSetup("")
}

// showSetup builds the Setup window for the mirror's current address and
// shows it, with notice (when not "") on the Docker tab for a few seconds.
// A rebuild keeps the tab that was selected and a notice not yet gone.
func (u *App) showSetup(notice string) {
	if u.setupWin == nil {
		u.setupWin = u.app.NewWindow(tr("hubmirror: set up your tools"))
		u.setupWin.SetIcon(appIcon)
		w := u.setupWin
		w.SetCloseIntercept(func() { u.hideWin(w) })
		u.setupWin.Resize(fyne.NewSize(760, 560))
	}
	old, _ := u.setupWin.Content().(*setupPane)
	p := u.buildSetup()
	switch {
	case notice != "":
		p.tabs.Select(p.tabOf["docker"])
		u.showNotice(p, notice, time.Now().Add(2*u.savedFor))
	case old != nil:
		p.tabs.SelectIndex(old.tabs.SelectedIndex())
		if old.noticeRow.Visible() && time.Now().Before(old.noticeUntil) {
			u.showNotice(p, old.notice.Text, old.noticeUntil)
		}
	}
	u.setupWin.SetContent(p)
	u.showWin(u.setupWin)
}

// showNotice shows text at the top of p until the time until, then hides
// it, unless a newer notice took its place.
func (u *App) showNotice(p *setupPane, text string, until time.Time) {
	p.notice.SetText(text)
	p.noticeUntil = until
	p.noticeRow.Show()
	time.AfterFunc(time.Until(until), func() {
		u.do(func() {
			if p.noticeUntil.Equal(until) {
				p.noticeRow.Hide()
			}
		})
	})
}

// buildSetup makes the tabs for the address the mirror runs on now.
func (u *App) buildSetup() *setupPane {
	addr := u.mirrorAddr()
	regs := u.backend.Settings().Registries()
	p := &setupPane{tabs: container.NewAppTabs(), tabOf: map[string]*container.TabItem{}}
	u.setupCopy = map[string][]*widget.Button{}
	for _, client := range clientsetup.Clients {
		snips, err := clientsetup.Snippets(setupLang(), client, addr, regs)
		if err != nil {
			continue
		}
		var cards []fyne.CanvasObject
		for _, sn := range snips {
			copyBtn := u.copyButton(sn.Text)
			u.setupCopy[client] = append(u.setupCopy[client], copyBtn)
			note := widget.NewLabel(sn.Note)
			note.Wrapping = fyne.TextWrapWord
			code := widget.NewTextGridFromString(sn.Text)
			cards = append(cards, widget.NewCard(sn.Title, sn.Path,
				container.NewVBox(container.NewBorder(nil, nil, nil, container.NewVBox(copyBtn), code), note)))
		}
		if appliable[client] {
			cards = append([]fyne.CanvasObject{u.applyRow(client)}, cards...)
		}
		tab := container.NewTabItem(tr(clientTabs[client]), container.NewVScroll(container.NewVBox(cards...)))
		p.tabOf[client] = tab
		p.tabs.Append(tab)
	}
	intro := widget.NewLabel(tr("Each snippet names this mirror at") + " " + addr + ". " + tr("Copy it into the file shown."))
	intro.Wrapping = fyne.TextWrapWord
	p.notice = widget.NewLabel("")
	p.notice.Wrapping = fyne.TextWrapWord
	p.noticeRow = container.NewBorder(nil, nil, widget.NewIcon(theme.ConfirmIcon()), nil, p.notice)
	p.noticeRow.Hide()
	p.content = container.NewBorder(container.NewVBox(intro, p.noticeRow), nil, nil, nil, p.tabs)
	p.ExtendBaseWidget(p)
	return p
}

// appliable are the clients whose files the app can write itself
// (`hubmirror setup CLIENT --apply`).
var appliable = map[string]bool{"docker": true, "containerd": true, "podman": true}

// applyRow is an Apply button that configures client's own files, as
// `hubmirror setup CLIENT --apply` does, with what it did (or the sudo
// command to run where the app lacks the rights) shown under it.
func (u *App) applyRow(client string) fyne.CanvasObject {
	result := widget.NewLabel("")
	result.Wrapping = fyne.TextWrapWord
	result.Hide()
	var btn *widget.Button
	btn = widget.NewButtonWithIcon(tr("Apply"), theme.ConfirmIcon(), func() {
		btn.Disable()
		u.run(func() {
			report, err := u.backend.ApplySetup(client)
			fyne.Do(func() {
				btn.Enable()
				text := strings.TrimSpace(tr(report))
				result.Importance = widget.MediumImportance
				if err != nil {
					result.Importance = widget.DangerImportance
					text = strings.TrimSpace(tr(err.Error()) + "\n" + text)
				}
				result.SetText(text)
				result.Show()
			})
		})
	})
	if u.setupApply == nil {
		u.setupApply = map[string]*widget.Button{}
		u.setupApplied = map[string]*widget.Label{}
	}
	u.setupApply[client], u.setupApplied[client] = btn, result
	hint := widget.NewLabel(tr("Apply writes this configuration into the client's own files, keeping what else is there; undo it with hubmirror setup CLIENT --undo."))
	hint.Wrapping = fyne.TextWrapWord
	return container.NewVBox(container.NewBorder(nil, nil, nil, btn, hint), result)
}

// copyButton is a Copy button that puts text on the clipboard and says
// "Copied" for a few seconds, so that a click visibly did something.
func (u *App) copyButton(text string) *widget.Button {
	var btn *widget.Button
	taps := 0
	btn = widget.NewButtonWithIcon(tr("Copy"), theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(text)
		taps++
		tap := taps
		btn.SetText(tr("Copied"))
		btn.SetIcon(theme.ConfirmIcon())
		time.AfterFunc(u.savedFor, func() {
			u.do(func() {
				if taps == tap {
					btn.SetText(tr("Copy"))
					btn.SetIcon(theme.ContentCopyIcon())
				}
			})
		})
	})
	return btn
}
