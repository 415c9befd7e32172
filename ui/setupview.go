package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/proxy/setup"
)

// clientTabs are the Setup window's tabs, one per client, in setup.Clients
// order.
var clientTabs = map[string]string{
	"docker": "Docker", "containerd": "containerd", "podman": "podman / skopeo",
	"k3s": "k3s", "kind": "kind", "pull": "Pull examples", // translated when shown
}

// ShowSetup shows the Setup window: copy-ready configuration for every
// client, naming the mirror's current address. It is the landing page's
// and `hubmirror setup`'s set-up, with a Copy button on each snippet.
func (u *App) ShowSetup() {
	if u.openElsewhere(WindowSetup) {
		return
	}
	if u.setupWin == nil {
		u.setupWin = u.app.NewWindow(tr("hubmirror: set up your tools"))
		u.setupWin.SetIcon(appIcon)
		w := u.setupWin
		w.SetCloseIntercept(func() { u.hideWin(w) })
		u.setupWin.Resize(fyne.NewSize(760, 560))
	}
	u.setupWin.SetContent(u.buildSetup())
	u.showWin(u.setupWin)
}

// buildSetup makes the tabs for the address the mirror runs on now.
func (u *App) buildSetup() fyne.CanvasObject {
	addr := u.mirrorAddr()
	regs := u.backend.Settings().Registries()
	tabs := container.NewAppTabs()
	u.setupCopy = map[string][]*widget.Button{}
	for _, client := range setup.Clients {
		snips, err := setup.Snippets(client, addr, regs)
		if err != nil {
			continue
		}
		var cards []fyne.CanvasObject
		for _, sn := range snips {
			text := sn.Text
			copyBtn := widget.NewButtonWithIcon(tr("Copy"), theme.ContentCopyIcon(), func() {
				u.app.Clipboard().SetContent(text)
			})
			u.setupCopy[client] = append(u.setupCopy[client], copyBtn)
			note := widget.NewLabel(sn.Note)
			note.Wrapping = fyne.TextWrapWord
			code := widget.NewTextGridFromString(text)
			cards = append(cards, widget.NewCard(sn.Title, sn.Path,
				container.NewVBox(container.NewBorder(nil, nil, nil, container.NewVBox(copyBtn), code), note)))
		}
		tabs.Append(container.NewTabItem(tr(clientTabs[client]), container.NewVScroll(container.NewVBox(cards...))))
	}
	intro := widget.NewLabel(tr("Each snippet names this mirror at") + " " + addr + ". " + tr("Copy it into the file shown."))
	intro.Wrapping = fyne.TextWrapWord
	return container.NewBorder(intro, nil, nil, nil, tabs)
}
