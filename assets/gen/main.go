//go:build ignore

// Command gen draws hubmirror's icons and writes them as PNGs next to
// assets.go. Run it from the assets directory: go run gen/main.go
//
// Every icon is the same glyph, an arrow pulling down into an open box (an
// image pulled into the local cache), in white on a rounded square: Docker
// blue for the app icon, green for a running mirror, amber for one running
// with a problem, grey for a stopped one and red for one that failed.
// Shapes are sampled 8×8 times per pixel, so edges stay smooth at 22 px.
package main

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"
)

// shape reports whether the point (x, y), in units of the icon's side,
// is inside.
type shape func(x, y float64) bool

func roundRect(x0, y0, x1, y1, r float64) shape {
	return func(x, y float64) bool {
		if x < x0 || x > x1 || y < y0 || y > y1 {
			return false
		}
		cx := math.Max(x0+r, math.Min(x, x1-r))
		cy := math.Max(y0+r, math.Min(y, y1-r))
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}
}

func polygon(pts ...[2]float64) shape {
	return func(x, y float64) bool {
		in := false
		for i, j := 0, len(pts)-1; i < len(pts); j, i = i, i+1 {
			a, b := pts[i], pts[j]
			if (a[1] > y) != (b[1] > y) && x < (b[0]-a[0])*(y-a[1])/(b[1]-a[1])+a[0] {
				in = !in
			}
		}
		return in
	}
}

func union(ss ...shape) shape {
	return func(x, y float64) bool {
		for _, s := range ss {
			if s(x, y) {
				return true
			}
		}
		return false
	}
}

// mask renders s as an anti-aliased alpha mask of size×size pixels.
func mask(size int, s shape) *image.Alpha {
	const n = 8
	m := image.NewAlpha(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			hits := 0
			for sy := 0; sy < n; sy++ {
				for sx := 0; sx < n; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/n) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/n) / float64(size)
					if s(x, y) {
						hits++
					}
				}
			}
			m.SetAlpha(px, py, color.Alpha{A: uint8(hits * 255 / (n * n))})
		}
	}
	return m
}

// glyph is the arrow dropping into an open box, with strokes of width w.
func glyph(w float64) shape {
	const (
		left, right  = 0.22, 0.78
		top, bottom  = 0.50, 0.80
		shaft, headY = 0.19, 0.43
		tip          = 0.66
	)
	box := union(
		roundRect(left, top, left+w, bottom, w/2),
		roundRect(right-w, top, right, bottom, w/2),
		roundRect(left, bottom-w, right, bottom, w/2),
	)
	arrow := union(
		roundRect(0.5-w/2, shaft, 0.5+w/2, headY+0.02, w/2),
		polygon([2]float64{0.32, headY}, [2]float64{0.68, headY}, [2]float64{0.5, tip}),
	)
	return union(box, arrow)
}

// gradient is a vertical blend from top to bottom.
func gradient(size int, top, bottom color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	lerp := func(a, b uint8, t float64) uint8 { return uint8(float64(a) + (float64(b)-float64(a))*t + 0.5) }
	for y := 0; y < size; y++ {
		t := float64(y) / float64(size-1)
		c := color.NRGBA{lerp(top.R, bottom.R, t), lerp(top.G, bottom.G, t), lerp(top.B, bottom.B, t), 0xff}
		draw.Draw(img, image.Rect(0, y, size, y+1), image.NewUniform(c), image.Point{}, draw.Src)
	}
	return img
}

// icon draws the glyph in white over a rounded square shaded from top to
// bottom, on a transparent background.
func icon(size int, top, bottom color.NRGBA, inset, radius, stroke float64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), image.Transparent, image.Point{}, draw.Src)
	square := roundRect(inset, inset, 1-inset, 1-inset, radius)
	draw.DrawMask(img, img.Bounds(), gradient(size, top, bottom), image.Point{}, mask(size, square), image.Point{}, draw.Over)
	draw.DrawMask(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, mask(size, glyph(stroke)), image.Point{}, draw.Over)
	return img
}

func write(name string, img image.Image) {
	f, err := os.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func main() {
	var (
		blueTop     = color.NRGBA{0x3a, 0x8d, 0xff, 0xff}
		blueBottom  = color.NRGBA{0x1d, 0x5b, 0xe0, 0xff}
		greenTop    = color.NRGBA{0x3f, 0xb9, 0x50, 0xff}
		greenBottom = color.NRGBA{0x1a, 0x7f, 0x37, 0xff}
		greyTop     = color.NRGBA{0x9a, 0xa1, 0xaa, 0xff}
		greyBottom  = color.NRGBA{0x6e, 0x76, 0x81, 0xff}
		amberTop    = color.NRGBA{0xf5, 0xb3, 0x2a, 0xff}
		amberBottom = color.NRGBA{0xc9, 0x7a, 0x08, 0xff}
		redTop      = color.NRGBA{0xe5, 0x4b, 0x4b, 0xff}
		redBottom   = color.NRGBA{0xb0, 0x21, 0x21, 0xff}
	)
	write("icon.png", icon(512, blueTop, blueBottom, 0.04, 0.22, 0.09))
	write("tray_running.png", icon(64, greenTop, greenBottom, 0.03, 0.2, 0.11))
	write("tray_stopped.png", icon(64, greyTop, greyBottom, 0.03, 0.2, 0.11))
	write("tray_problem.png", icon(64, amberTop, amberBottom, 0.03, 0.2, 0.11))
	write("tray_failed.png", icon(64, redTop, redBottom, 0.03, 0.2, 0.11))
}
