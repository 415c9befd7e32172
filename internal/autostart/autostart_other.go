//go:build !unix && !windows

package autostart

import "errors"

// There is no login entry on this platform (plan9, wasm).
func enable(Entry) error { return errors.ErrUnsupported }

// disable has nothing to remove.
func disable(Entry) error { return nil }
