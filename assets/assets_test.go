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
		{"TrayProblem", TrayProblem, 64},
		{"TrayFailed", TrayFailed, 64},
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
	trays := [][]byte{TrayRunning, TrayProblem, TrayStopped, TrayFailed}
	for i := range trays {
		for j := range i {
			if bytes.Equal(trays[i], trays[j]) {
				t.Errorf("tray icons %d and %d are the same", i, j)
			}
		}
		if len(trays[i]) > 4<<10 {
			t.Errorf("tray icon %d is %d bytes: keep it small", i, len(trays[i]))
		}
	}
}
