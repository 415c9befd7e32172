package ui

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/hubmirror/hubmirror/internal/i18n"
)

// buildAccountSection makes the Docker Hub account tab. Unlike the rest of
// the window, its buttons act at once and do not wait for Save: signing in
// asks Docker Hub whether the password is right, which can fail on its
// own (a typo, no network) and must be answered next to the password, not
// as half of a Save that also wrote the settings. So the buttons say what
// they do ("Sign in", "Sign out") rather than "Save", and a line says that
// Save does not apply to them.
func (u *App) buildAccountSection() fyne.CanvasObject {
	f := u.form
	f.hubUser = newEscEntry()
	f.hubUser.SetPlaceHolder(tr("Docker Hub username"))
	f.hubPassword = newEscPasswordEntry()
	f.hubPassword.SetPlaceHolder(tr("password or personal access token"))
	f.saveAccount = widget.NewButtonWithIcon(tr("Sign in"), theme.LoginIcon(), u.saveHubAccount)
	f.testAccount = widget.NewButtonWithIcon(tr("Test"), theme.ConfirmIcon(), u.testHubAccount)
	f.removeAccount = widget.NewButtonWithIcon(tr("Sign out"), theme.LogoutIcon(), u.removeHubAccount)
	f.accountMsg = widget.NewLabel("")
	f.accountMsg.Wrapping = fyne.TextWrapWord
	f.accountDetail = widget.NewLabel("")
	f.accountDetail.Wrapping = fyne.TextWrapWord
	f.accountDetails = widget.NewAccordion(widget.NewAccordionItem(tr("Details"), f.accountDetail))
	f.accountDetails.Hide()
	intro := widget.NewLabel(tr("Pulls made with an account count against its allowance, not the anonymous one."))
	intro.Wrapping = fyne.TextWrapWord
	atOnce := widget.NewLabel(tr("Sign in, Test and Sign out act at once, with Docker Hub and the keyring; Save does not apply to them. Test with the password field empty checks the stored account."))
	atOnce.Wrapping = fyne.TextWrapWord
	atOnce.Importance = widget.LowImportance
	form := widget.NewForm(
		widget.NewFormItem(tr("Username"), f.hubUser),
		widget.NewFormItem(tr("Password"), f.hubPassword),
	)
	return container.NewVBox(intro, form, container.NewHBox(f.saveAccount, f.testAccount, f.removeAccount), atOnce, f.accountMsg, f.accountDetails)
}

// loadAccount shows the username stored in the keyring, read off the UI
// thread. It fills the username entry unless the user typed another name.
func (u *App) loadAccount() {
	f := u.form
	u.run(func() {
		user, err := u.backend.Account()
		fyne.Do(func() {
			if err != nil {
				u.accountFailed(err)
				return
			}
			if f.hubUser.Text == "" || f.hubUser.Text == f.storedUser {
				f.hubUser.SetText(user)
			}
			f.storedUser = user
			if user == "" {
				u.accountResult(tr("No account stored: the mirror pulls from Docker Hub anonymously."), false)
			} else {
				u.accountResult(fmt.Sprintf(tr("Signed in as %s; the account is stored in %s."), user, keyringName()), false)
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
		return fmt.Sprintf(tr("Signed in as %s; the account is stored in %s."), user, keyringName())
	})
}

// testHubAccount checks the typed account with Docker Hub; with the
// password field empty it checks the stored account, so that nobody has
// to type a password again to see whether it still works
// (Backend.TestAccount with "" tests the stored password).
func (u *App) testHubAccount() {
	f := u.form
	user, password := strings.TrimSpace(f.hubUser.Text), f.hubPassword.Text
	if password == "" && f.storedUser != "" && (user == "" || user == f.storedUser) {
		stored := f.storedUser
		u.accountCall(tr("Checking with Docker Hub…"), func() error { return u.backend.TestAccount(stored, "") }, func() string {
			return fmt.Sprintf(tr("Docker Hub accepted the stored password for %s."), stored)
		})
		return
	}
	user, password, ok := u.credentials()
	if !ok {
		return
	}
	u.accountCall(tr("Checking with Docker Hub…"), func() error { return u.backend.TestAccount(user, password) }, func() string {
		return fmt.Sprintf(tr("Docker Hub accepted the password for %s."), user)
	})
}

func (u *App) removeHubAccount() {
	u.accountCall(tr("Signing out…"), u.backend.RemoveAccount, func() string {
		f := u.form
		if f.hubUser.Text == f.storedUser {
			f.hubUser.SetText("")
		}
		f.storedUser = ""
		f.hubPassword.SetText("")
		return tr("Signed out: the stored account was removed and the mirror pulls from Docker Hub anonymously.")
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
				u.accountFailed(err)
				return
			}
			u.accountResult(done(), false)
		})
	})
}

// accountFailed shows an account error in the window: a keyring problem
// as one sentence on what to do, with the keyring's own words under
// Details. Only when the window was closed meanwhile does it also go to a
// notification: while the window is open, one is noise.
func (u *App) accountFailed(err error) {
	f := u.form
	msg, detail := err.Error(), ""
	if keyringUnavailable(err) {
		msg, detail = keyringAdvice(), err.Error()
	}
	u.accountResult(msg, true)
	if detail != "" {
		f.accountDetail.SetText(detail)
		f.accountDetails.Show()
	}
	if !f.visible {
		u.notify(msg)
	}
}

// keyringUnavailable reports whether err says the OS keyring cannot be
// used (ErrKeyringUnavailable, which the window process's connection to
// the app carries over).
func keyringUnavailable(err error) bool {
	return errors.Is(err, ErrKeyringUnavailable)
}

// keyringName names this OS's keyring as its users know it, in the
// windows' language: the catalog owns the names (i18n.KeyringName).
func keyringName() string { return i18n.KeyringName(uiLang()) }

// keyringAdvice says in one sentence what to do when the keyring cannot
// be used.
func keyringAdvice() string {
	switch runtime.GOOS {
	case "darwin":
		return tr("The macOS Keychain is not available: unlock it in Keychain Access, then reopen this window.")
	case "windows":
		return tr("Windows Credential Manager is not available: sign in to Windows again, then reopen this window.")
	}
	return tr("The system keyring is not available: unlock it or install gnome-keyring, then reopen this window.")
}

// accountResult shows msg under the account buttons, in red for a
// problem, and folds away the details of an earlier problem.
func (u *App) accountResult(msg string, problem bool) {
	f := u.form
	l := f.accountMsg
	l.Importance = widget.MediumImportance
	if problem {
		l.Importance = widget.DangerImportance
	}
	l.SetText(msg)
	l.Refresh()
	f.accountDetails.Hide()
	f.accountDetail.SetText("")
}
