//go:build !unix && !windows

package instance

import (
	"errors"
	"net"
)

// claim always succeeds where there is neither flock nor a named mutex
// (plan9, wasm): every launch is a first instance.
func claim(_ string, show func()) (*Instance, error) {
	return (&Instance{ln: closedListener{}, show: show, release: func() {}}).start(), nil
}

// closedListener is a listener that was never open.
type closedListener struct{}

func (closedListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (closedListener) Close() error              { return nil }
func (closedListener) Addr() net.Addr            { return nil }

// dial fails: here no instance listens.
func dial(string) (net.Conn, string, error) {
	return nil, "", errors.New("reach the running instance: not supported on this system")
}
