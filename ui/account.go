package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

func (u *App) buildAccountSection() fyne.CanvasObject {
	f := u.form
	f.hubUser = widget.NewEntry()
	f.hubUser.SetPlaceHolder(tr("Docker Hub username"))
	f.hubPassword = widget.NewPasswordEntry()
	f.hubPassword.SetPlaceHolder(tr("password or personal access token"))
	f.saveAccount = widget.NewButtonWithIcon(tr("Save to keyring"), theme.DocumentSaveIcon(), u.saveHubAccount)
	f.testAccount = widget.NewButtonWithIcon(tr("Test"), theme.ConfirmIcon(), u.testHubAccount)
	f.removeAccount = widget.NewButtonWithIcon(tr("Remove"), theme.DeleteIcon(), u.removeHubAccount)
	f.accountMsg = widget.NewLabel("")
	f.accountMsg.Wrapping = fyne.TextWrapWord
	form := widget.NewForm(
		widget.NewFormItem(tr("Username"), f.hubUser),
		widget.NewFormItem(tr("Password"), f.hubPassword),
	)
	return container.NewVBox(form, container.NewHBox(f.saveAccount, f.testAccount, f.removeAccount), f.accountMsg)
}

// loadAccount shows the username stored in the keyring, read off the UI
// thread. It fills the username entry unless the user typed another name.
func (u *App) loadAccount() {
	f := u.form
	u.run(func() {
		user, err := u.backend.Account()
		fyne.Do(func() {
			if err != nil {
				u.accountResult(err.Error(), true)
				u.notify(err.Error()) // the keyring cannot be used: say what to do
				return
			}
			if f.hubUser.Text == "" || f.hubUser.Text == f.storedUser {
				f.hubUser.SetText(user)
			}
			f.storedUser = user
			if user == "" {
				u.accountResult(tr("No account stored: the mirror pulls from Docker Hub anonymously."), false)
			} else {
				u.accountResult(tr("Stored in the keyring:")+" "+user, false)
			}
		})
	})
}

// credentials returns the typed username and password, or false after
// saying what is missing.
func (u *App) credentials() (user, password string, ok bool) {
	f := u.form
	user, password = strings.TrimSpace(f.hubUser.Text), f.hubPassword.Text
	if user == "" || password == "" {
		u.accountResult(tr("Type the Docker Hub username and password (or a personal access token) first."), true)
		return "", "", false
	}
	return user, password, true
}

func (u *App) saveHubAccount() {
	user, password, ok := u.credentials()
	if !ok {
		return
	}
	u.accountCall(tr("Checking with Docker Hub…"), func() error { return u.backend.SaveAccount(user, password) }, func() string {
		u.form.storedUser = user
		u.form.hubPassword.SetText("")
		return tr("Saved for") + " " + user
	})
}

func (u *App) testHubAccount() {
	user, password, ok := u.credentials()
	if !ok {
		return
	}
	u.accountCall(tr("Checking with Docker Hub…"), func() error { return u.backend.TestAccount(user, password) }, func() string {
		return tr("Docker Hub accepted the password")
	})
}

func (u *App) removeHubAccount() {
	u.accountCall(tr("Removing…"), u.backend.RemoveAccount, func() string {
		f := u.form
		if f.hubUser.Text == f.storedUser {
			f.hubUser.SetText("")
		}
		f.storedUser = ""
		f.hubPassword.SetText("")
		return tr("Removed the stored account: the mirror pulls from Docker Hub anonymously.")
	})
}

// accountCall runs call off the UI thread with the account buttons
// disabled, then shows its error or what done returns.
func (u *App) accountCall(busy string, call func() error, done func() string) {
	f := u.form
	buttons := []*widget.Button{f.saveAccount, f.testAccount, f.removeAccount}
	for _, b := range buttons {
		b.Disable()
	}
	u.accountResult(busy, false)
	u.run(func() {
		err := call()
		fyne.Do(func() {
			for _, b := range buttons {
				b.Enable()
			}
			if err != nil {
				u.accountResult(err.Error(), true)
				u.notify(err.Error()) // the keyring cannot be used: say what to do
				return
			}
			u.accountResult(done(), false)
		})
	})
}

// accountResult shows msg under the account buttons, in red for a problem.
func (u *App) accountResult(msg string, problem bool) {
	l := u.form.accountMsg
	l.Importance = widget.MediumImportance
	if problem {
		l.Importance = widget.DangerImportance
	}
	l.SetText(msg)
	l.Refresh()
}
