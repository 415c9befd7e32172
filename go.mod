module github.com/hubmirror/hubmirror

go 1.26.8

require github.com/zalando/go-keyring v0.2.8

require (
	github.com/danieljoos/wincred v1.2.3 // indirect
	github.com/godbus/dbus/v5 v5.2.2 // indirect
	golang.org/x/sys v0.27.0 // indirect
)
