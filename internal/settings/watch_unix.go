//go:build unix

package settings

import (
	"os"
	"os/signal"
	"syscall"
)

// hangups delivers SIGHUP, the usual "read your configuration again".
func hangups() (<-chan os.Signal, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}
