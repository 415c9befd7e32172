package ui

import (
	"fmt"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/mirror"
	"github.com/hubmirror/hubmirror/internal/settings"
)

// cacheView is the Cache window: usage against the limit, the pinned
// images, and Prepare for offline, Verify and Clear with progress. It is a
// window of actions, not of preferences: Prepare, Verify and Clear act at
// once, and so do pinning and unpinning, which edit the pins in the
// settings file as it is then (see editPins) and set the mirror fetching;
// the settings window's Save does not cover them.
type cacheView struct {
	win      fyne.Window
	usage    *widget.Label       // the blob count
	bar      *widget.ProgressBar // bytes kept against the limit, e.g. "2.4 MB of 20 GB"
	barText  string              // what bar shows
	pins     []string
	pinList  *widget.List
	newPin   *widget.Entry
	addPin   *widget.Button
	pinMsg   *widget.Label
	prepare  *widget.Button
	verify   *widget.Button
	clear    *widget.Button
	progress *widget.ProgressBar
	result   *widget.Label
}

// confirmFunc asks whether to delete something, answering true for
// Delete; tests replace it.
type confirmFunc func(title, message string, answer func(bool), parent fyne.Window)

// ShowCache shows the Cache window.
func (u *App) ShowCache() {
	if u.openElsewhere(WindowCache) {
		return
	}
	if u.cache == nil {
		u.cache = u.buildCache()
	}
	u.refreshCache()
	u.showWin(u.cache.win)
}

func (u *App) buildCache() *cacheView {
	v := &cacheView{win: u.app.NewWindow(tr("hubmirror cache"))}
	v.win.SetIcon(appIcon)
	v.win.SetCloseIntercept(func() { u.hideWin(v.win) })
	v.usage = widget.NewLabel("")
	v.bar = widget.NewProgressBar()
	v.bar.TextFormatter = func() string { return v.barText }
	v.pinList = widget.NewList(
		func() int { return len(v.pins) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, widget.NewButtonWithIcon("", theme.DeleteIcon(), nil), widget.NewLabel(""))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			row := o.(*fyne.Container)
			row.Objects[0].(*widget.Label).SetText(v.pins[id])
			ref := v.pins[id]
			row.Objects[1].(*widget.Button).OnTapped = func() { u.removePin(ref) }
		})
	v.newPin = widget.NewEntry()
	v.newPin.SetPlaceHolder("alpine:3.20, ghcr.io/owner/app:1")
	v.newPin.OnSubmitted = func(string) { u.addPinned() }
	v.addPin = widget.NewButtonWithIcon(tr("Pin"), theme.ContentAddIcon(), u.addPinned)
	v.pinMsg = widget.NewLabel("")
	v.pinMsg.Importance = widget.DangerImportance
	v.prepare = widget.NewButtonWithIcon(tr("Prepare for offline"), theme.DownloadIcon(), u.prepareOffline)
	v.verify = widget.NewButtonWithIcon(tr("Verify"), theme.ConfirmIcon(), u.verifyCache)
	v.clear = widget.NewButtonWithIcon(tr("Clear…"), theme.DeleteIcon(), u.clearCache)
	v.progress = widget.NewProgressBar()
	v.progress.Hide()
	v.result = widget.NewLabel("")
	v.result.Wrapping = fyne.TextWrapWord

	pinned := widget.NewCard(tr("Pinned images"), tr("Kept whole, never evicted, refreshed when their tags move."),
		container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, nil, v.addPin, v.newPin), v.pinMsg), nil, nil, nil, v.pinList))
	top := widget.NewCard(tr("Cache"), "", container.NewVBox(v.usage, v.bar))
	actions := container.NewVBox(container.NewHBox(v.prepare, v.verify, v.clear), v.progress, v.result)
	v.win.SetContent(container.NewBorder(top, actions, nil, nil, pinned))
	v.win.Resize(fyne.NewSize(640, 520))
	return v
}

// refreshCache shows the usage and the pins; CacheUsage is quick (no I/O).
func (u *App) refreshCache() {
	v := u.cache
	usage := u.backend.CacheUsage()
	v.barText, v.bar.Value = usageBar(usage)
	v.bar.Refresh()
	v.usage.SetText(fmt.Sprintf(tr("Blobs (image layers and configurations) in the cache: %d"), usage.Blobs))
	v.pins = slices.Clone(u.backend.Settings().Pinned)
	v.pinList.Refresh()
}

// usageBar is what the usage bar shows for usage: the share of the limit
// used, between 0 (empty, as at 0 B) and 1, and a text such as "2.4 MB of
// 20 GB".
func usageBar(usage mirror.CacheUsage) (text string, value float64) {
	if usage.Limit <= 0 {
		return fmt.Sprintf(tr("%s (no limit set)"), mirror.FormatBytes(usage.Bytes)), 0
	}
	value = min(max(float64(usage.Bytes)/float64(usage.Limit), 0), 1)
	return fmt.Sprintf(tr("%s of %s"), mirror.FormatBytes(usage.Bytes), mirror.FormatBytes(usage.Limit)), value
}

// addPinned pins the image typed in the entry, after checking its name.
func (u *App) addPinned() {
	v := u.cache
	ref, err := mirror.ParseRef(v.newPin.Text)
	if err != nil {
		v.pinMsg.SetText(tr("Type an image such as alpine:3.20 or ghcr.io/owner/app:1."))
		return
	}
	name := ref.String()
	if slices.Contains(v.pins, name) {
		v.pinMsg.SetText(name + " " + tr("is already listed."))
		return
	}
	v.pinMsg.SetText("")
	v.newPin.SetText("")
	u.editPins(func(pins []string) []string {
		if slices.Contains(pins, name) {
			return pins
		}
		return append(slices.Clone(pins), name)
	})
}

func (u *App) removePin(ref string) {
	u.editPins(func(pins []string) []string {
		return slices.DeleteFunc(slices.Clone(pins), func(p string) bool { return p == ref })
	})
}

// editPins applies edit to the pins shown and to the pins in the settings
// file as it is now, so pins added meanwhile (hubmirror pin add) stay; the
// mirror fetches new ones.
func (u *App) editPins(edit func([]string) []string) {
	v := u.cache
	v.pins = edit(v.pins)
	v.pinList.Refresh()
	u.run(func() {
		saved, err := u.backend.UpdateSettings(func(s *settings.Settings) { s.Pinned = edit(s.Pinned) })
		fyne.Do(func() {
			if err != nil {
				v.pinMsg.SetText(describeSaveError(err))
				return
			}
			v.pins = slices.Clone(saved.Pinned)
			v.pinList.Refresh()
		})
	})
}

// cacheTask runs a long cache operation off the UI thread with the buttons
// disabled and the progress bar shown, then shows its result.
func (u *App) cacheTask(task func(progress func(float64)) string) {
	v := u.cache
	for _, b := range []*widget.Button{v.prepare, v.verify, v.clear} {
		b.Disable()
	}
	v.progress.SetValue(0)
	v.progress.Show()
	u.run(func() {
		msg := task(func(f float64) { fyne.Do(func() { v.progress.SetValue(f) }) })
		fyne.Do(func() {
			for _, b := range []*widget.Button{v.prepare, v.verify, v.clear} {
				b.Enable()
			}
			v.progress.Hide()
			v.result.SetText(msg)
			u.refreshCache()
		})
	})
}

// prepareOffline downloads every pinned image now.
func (u *App) prepareOffline() {
	pins := slices.Clone(u.cache.pins)
	if len(pins) == 0 {
		u.cache.result.SetText(tr("Pin the images you need first, then prepare them for offline use."))
		return
	}
	u.cacheTask(func(progress func(float64)) string {
		for i, p := range pins {
			err := u.backend.Prefetch(p, func(done, total int64) {
				if total > 0 {
					progress((float64(i) + float64(done)/float64(total)) / float64(len(pins)))
				}
			})
			if err != nil {
				return p + ": " + err.Error()
			}
		}
		return fmt.Sprintf("%s (%d)", tr("Ready for offline use"), len(pins))
	})
}

func (u *App) verifyCache() {
	u.cacheTask(func(progress func(float64)) string {
		bad, err := u.backend.VerifyCache(func(done, total int) {
			if total > 0 {
				progress(float64(done) / float64(total))
			}
		})
		switch {
		case err != nil:
			return err.Error()
		case len(bad) > 0:
			return fmt.Sprintf("%s: %d", tr("Corrupt blobs removed; they download again when pulled"), len(bad))
		}
		return tr("Every cached blob matches its digest.")
	})
}

// clearCache asks, saying how much goes and whether pinned images go
// too, then empties the cache. The figures are read off the UI thread.
func (u *App) clearCache() {
	v := u.cache
	u.run(func() {
		usage, pinned := u.backend.CacheUsage(), len(u.backend.Settings().Pinned)
		fyne.Do(func() {
			u.confirm(tr("Clear the cache"), clearQuestion(usage, pinned), func(yes bool) {
				if !yes {
					return
				}
				u.cacheTask(func(func(float64)) string {
					if err := u.backend.ClearCache(); err != nil {
						return err.Error()
					}
					return tr("The cache is empty.")
				})
			}, v.win)
		})
	})
}

// clearQuestion asks whether to delete what the cache holds, naming its
// size and, when there are any, the pinned images that go with it.
func clearQuestion(usage mirror.CacheUsage, pinned int) string {
	q := fmt.Sprintf(tr("Delete %s (%d blobs) from the cache?"), mirror.FormatBytes(usage.Bytes), usage.Blobs)
	switch {
	case pinned == 1:
		q += " " + tr("The pinned image goes too: it stays pinned and downloads again with Prepare for offline or the next pull.")
	case pinned > 1:
		q += " " + fmt.Sprintf(tr("The %d pinned images go too: they stay pinned and download again with Prepare for offline or the next pull."), pinned)
	default:
		q += " " + tr("Pulls will download the images again.")
	}
	return q
}

// defaultConfirm asks with a Fyne dialog whose buttons say what they do:
// Cancel, and Delete in red.
func defaultConfirm(title, message string, answer func(bool), parent fyne.Window) {
	newDeleteConfirm(title, message, answer, parent).Show()
}

// newDeleteConfirm makes defaultConfirm's dialog, for tests to look at.
func newDeleteConfirm(title, message string, answer func(bool), parent fyne.Window) *dialog.ConfirmDialog {
	d := dialog.NewConfirm(title, message, answer, parent)
	d.SetConfirmText(tr("Delete"))
	d.SetDismissText(tr("Cancel"))
	d.SetConfirmImportance(widget.DangerImportance)
	return d
}
