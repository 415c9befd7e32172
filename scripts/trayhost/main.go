// Command trayhost is a stand-in tray host for scripts/bench-idle.sh: it
// owns org.kde.StatusNotifierWatcher on the D-Bus session bus, so that the
// desktop app finds a tray and opens no window, prints "ready" and keeps
// the name until it is killed. It shows nothing.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/godbus/dbus/v5"
)

const (
	name = "org.kde.StatusNotifierWatcher"
	path = "/StatusNotifierWatcher"
)

// host answers the watcher's methods; every item is accepted.
type host struct{}

// RegisterStatusNotifierItem is called by an app's tray item.
func (host) RegisterStatusNotifierItem(string) *dbus.Error { return nil }

// RegisterStatusNotifierHost is called by a tray host.
func (host) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// props serves org.freedesktop.DBus.Properties with fixed values.
type props map[string]dbus.Variant

// Get returns one property.
func (p props) Get(_, prop string) (dbus.Variant, *dbus.Error) {
	if v, ok := p[prop]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.MakeFailedError(fmt.Errorf("no property %s", prop))
}

// GetAll returns every property.
func (p props) GetAll(string) (map[string]dbus.Variant, *dbus.Error) { return p, nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "trayhost:", err)
		os.Exit(1)
	}
}

func run() error {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("connecting to the session bus: %w", err)
	}
	defer conn.Close()
	if err := conn.Export(host{}, path, name); err != nil {
		return fmt.Errorf("exporting the watcher: %w", err)
	}
	p := props{
		"IsStatusNotifierHostRegistered": dbus.MakeVariant(true),
		"RegisteredStatusNotifierItems":  dbus.MakeVariant([]string{}),
		"ProtocolVersion":                dbus.MakeVariant(int32(0)),
	}
	if err := conn.Export(p, path, "org.freedesktop.DBus.Properties"); err != nil {
		return fmt.Errorf("exporting the properties: %w", err)
	}
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("owning %s: %w", name, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("owning %s: another process has it", name)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
