package assets

import (
	"bytes"
	"image/png"
	"testing"
)

func TestIcons(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		size int
	}{
		{"Icon", Icon, 512},
		{"TrayRunning", TrayRunning, 64},
		{"TrayStopped", TrayStopped, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := png.Decode(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tc.size || b.Dy() != tc.size {
				t.Errorf("size %v, want %d×%d", b.Size(), tc.size, tc.size)
			}
			if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
				t.Errorf("corner alpha %d, want a transparent background", a)
			}
			if _, _, _, a := img.At(tc.size/2, tc.size*3/4).RGBA(); a != 0xffff {
				t.Errorf("centre alpha %d, want opaque", a)
			}
		})
	}
	if bytes.Equal(TrayRunning, TrayStopped) {
		t.Error("the running and stopped tray icons are the same")
	}
}
