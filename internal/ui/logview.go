package ui

import (
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/logfile"
)

// logLines is how many of the log's last lines the log window shows.
const logLines = 200

// logView is the log window: the log file's last lines, in monospace and
// selectable, read again each time the window is opened.
type logView struct {
	win    fyne.Window
	path   *widget.Label // the log file's name
	text   *widget.Label
	scroll *container.Scroll
}

// ShowLog shows the log window, building it on first use, and reads the
// log file's last lines off the UI thread.
func (u *App) ShowLog() {
	if u.openElsewhere(WindowLog) {
		return
	}
	if u.logView == nil {
		u.logView = u.buildLogView()
	}
	u.showWin(u.logView.win)
	u.run(func() {
		path := u.backend.About().LogFile
		text := readLogTail(path)
		fyne.Do(func() {
			v := u.logView
			v.path.SetText(path)
			v.text.SetText(text)
			v.scroll.Refresh() // takes in the text's new size, else the scroll stays put
			v.scroll.ScrollToBottom()
		})
	})
}

func (u *App) buildLogView() *logView {
	v := &logView{win: u.app.NewWindow(tr("hubmirror log"))}
	v.win.SetIcon(appIcon)
	v.path = widget.NewLabel("")
	v.path.Selectable = true
	v.text = widget.NewLabelWithStyle(tr("Reading the log…"), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	v.text.Selectable = true
	v.scroll = container.NewScroll(v.text)
	refresh := widget.NewButton(tr("Refresh"), u.ShowLog)
	closeBtn := widget.NewButton(tr("Close"), v.win.Hide)
	v.win.SetContent(container.NewBorder(v.path, container.NewHBox(refresh, layout.NewSpacer(), closeBtn), nil, nil, v.scroll))
	v.win.SetCloseIntercept(func() { u.hideWin(v.win) })
	v.win.Resize(fyne.NewSize(900, 560))
	return v
}

// readLogTail is the log window's text for the log file at path: its last
// lines, or why there are none.
func readLogTail(path string) string {
	if path == "" {
		return tr("This hubmirror does not write a log file: its log goes to the terminal it was started from.")
	}
	lines, err := logfile.Tail(path, logLines)
	switch {
	case os.IsNotExist(err) || err == nil && len(lines) == 0:
		return tr("Nothing has been logged yet.")
	case err != nil:
		return tr("The log file cannot be read:") + " " + err.Error()
	}
	return strings.Join(lines, "\n")
}
