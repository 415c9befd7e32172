//go:build (linux || freebsd || openbsd || netbsd) && !android

package traymenu

import (
	"context"
	"time"

	"github.com/godbus/dbus/v5"
)

// watcherName is the D-Bus name a tray host (a StatusNotifierWatcher)
// owns; without an owner nothing shows tray items.
const watcherName = "org.kde.StatusNotifierWatcher"

// HostPresent reports whether a tray host is on the D-Bus session bus, so
// that a tray item would be shown. With no session bus, or when the bus
// does not answer within two seconds, it reports false.
func HostPresent() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var owned bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&owned)
	return err == nil && owned
}
