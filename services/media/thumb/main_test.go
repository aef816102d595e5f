package thumb

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: the ones that
// copy an external program's output must all be gone once Make returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture returns the path and bytes of a file in testdata (see
// testdata/gen.sh).
func fixture(t *testing.T, name string) (string, []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// decodeThumb decodes a thumbnail, failing the test unless it is a JPEG.
func decodeThumb(t *testing.T, name string, data []byte) image.Image {
	t.Helper()
	if len(data) == 0 {
		t.Fatalf("thumbnail %q is empty", name)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("thumbnail %q does not decode as JPEG: %v", name, err)
	}
	return img
}

// checkFits asserts the generic promises about a thumbnail of an original
// shown at w x h: within max x max, no larger than the original, and of the
// same aspect up to rounding to whole pixels.
func checkFits(t *testing.T, name string, img image.Image, w, h, maxSide int) {
	t.Helper()
	tw, th := img.Bounds().Dx(), img.Bounds().Dy()
	if tw > maxSide || th > maxSide {
		t.Errorf("thumbnail %q is %dx%d, over %d", name, tw, th, maxSide)
	}
	if tw > w || th > h {
		t.Errorf("thumbnail %q is %dx%d, upscaled from %dx%d", name, tw, th, w, h)
	}
	// tw/th == w/h within half a pixel on the longer side.
	if d := tw*h - th*w; 2*abs(d) > max(w, h) {
		t.Errorf("thumbnail %q is %dx%d, not the aspect of %dx%d", name, tw, th, w, h)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Colours of the fixtures' quadrants.
var (
	red   = color.RGBA{0xff, 0, 0, 0xff}
	lime  = color.RGBA{0, 0xff, 0, 0xff}
	blue  = color.RGBA{0, 0, 0xff, 0xff}
	white = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// corners holds the colours expected at the centres of a picture's
// top-left, top-right, bottom-left and bottom-right quadrants.
type corners [4]color.RGBA

// checkCorners compares the quadrant centres of img with want, allowing for
// JPEG's loss.
func checkCorners(t *testing.T, name string, img image.Image, want corners) {
	t.Helper()
	b := img.Bounds()
	pts := [4]image.Point{
		{b.Min.X + b.Dx()/4, b.Min.Y + b.Dy()/4},
		{b.Min.X + 3*b.Dx()/4, b.Min.Y + b.Dy()/4},
		{b.Min.X + b.Dx()/4, b.Min.Y + 3*b.Dy()/4},
		{b.Min.X + 3*b.Dx()/4, b.Min.Y + 3*b.Dy()/4},
	}
	labels := [4]string{"top-left", "top-right", "bottom-left", "bottom-right"}
	for i, p := range pts {
		got := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA)
		if !near(got, want[i]) {
			t.Errorf("thumbnail %q: %s quadrant is %v, want %v", name, labels[i], got, want[i])
		}
	}
}

func near(a, b color.RGBA) bool {
	const tolerance = 48
	return abs(int(a.R)-int(b.R)) <= tolerance &&
		abs(int(a.G)-int(b.G)) <= tolerance &&
		abs(int(a.B)-int(b.B)) <= tolerance
}
