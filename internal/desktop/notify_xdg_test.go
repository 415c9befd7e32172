//go:build !nogui && (linux || freebsd || openbsd || netbsd)

package desktop

import (
	"bufio"
	"bytes"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"github.com/godbus/dbus/v5"
)

// notificationServer is a stand-in org.freedesktop.Notifications that
// records what it was sent.
type notificationServer struct {
	mu    sync.Mutex
	calls []notifyCall
}

type notifyCall struct {
	app      string
	replaces uint32
	icon     string
	title    string
	body     string
	hints    map[string]dbus.Variant
	timeout  int32
}

// Notify records the call and answers with a new id, as a server does.
func (s *notificationServer) Notify(app string, replaces uint32, icon, summary, body string, _ []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, notifyCall{app, replaces, icon, summary, body, hints, timeout})
	return uint32(100 + len(s.calls)), nil
}

// startSessionBus starts a private dbus-daemon and points the session bus
// at it.
func startSessionBus(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is missing (apt-get install dbus)")
	}
	cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", strings.TrimSpace(addr))
}

// Notifications expire as the server decides (Fyne's own never expire),
// replace the previous one, and name the app's desktop entry; the app is
// still a desktop.App, so the tray icon still goes through it.
func TestNotificationsExpire(t *testing.T) {
	startSessionBus(t)
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv := &notificationServer{}
	if err := conn.Export(srv, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning the name: %v %v", reply, err)
	}
	var logs bytes.Buffer
	a := withoutBus(test.NewTempApp(t), slog.New(slog.NewTextHandler(&logs, nil)))
	if _, ok := a.(desktop.App); !ok {
		t.Fatal("the app lost desktop.App: no tray icon")
	}
	a.SendNotification(fyne.NewNotification("hubmirror", "first"))
	a.SendNotification(fyne.NewNotification("hubmirror", "second"))
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.calls) != 2 {
		t.Fatalf("%d notifications, want 2; log: %s", len(srv.calls), logs.String())
	}
	first, second := srv.calls[0], srv.calls[1]
	if first.timeout != -1 || second.timeout != -1 {
		t.Errorf("expire_timeout %d, %d; want -1 (the server's default; 0 never expires)", first.timeout, second.timeout)
	}
	if first.replaces != 0 || second.replaces != 101 {
		t.Errorf("replaces_id %d, %d; want 0, then the first's id 101", first.replaces, second.replaces)
	}
	if v, ok := second.hints["desktop-entry"]; !ok || v.Value() != appID {
		t.Errorf("desktop-entry hint %v, want %q", second.hints["desktop-entry"], appID)
	}
	if second.body != "second" || second.title != "hubmirror" {
		t.Errorf("sent %q %q", second.title, second.body)
	}
}

// Without a notification server a notification is one warning in the log,
// the next ones plain lines, and nothing on standard error from Fyne.
func TestNotificationsWithoutServer(t *testing.T) {
	startSessionBus(t)
	var logs bytes.Buffer
	a := withoutBus(test.NewTempApp(t), slog.New(slog.NewTextHandler(&logs, nil)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.SendNotification(fyne.NewNotification("hubmirror", "one"))
		a.SendNotification(fyne.NewNotification("hubmirror", "two"))
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("sending with no server hung")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "content=two") {
		t.Errorf("the second notification is not in the log:\n%s", logs.String())
	}
}
