package mediacheck

import (
	"testing"
	"time"
)

// contentTypes are the types Structure has an allowlist for.
var contentTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
	"image/heic-sequence", "video/mp4", "video/webm"}

// FuzzStructure: Structure never panics and stays quick on any input,
// whatever type it is told the input is.
func FuzzStructure(f *testing.F) {
	for _, name := range []string{"plain.jpg", "gps.jpg", "gps.png", "gps-im.png", "gps.gif", "gps.webp",
		"gps.heic", "gps.mp4", "gps.mov", "gps-keys.mov", "gps.webm"} {
		f.Add(fixture(f, name), uint8(0))
	}
	f.Add(cleanPNG(), uint8(1))
	f.Add(heifFile(heifParts{exif: cleanEXIF()}), uint8(4))
	f.Add(mp4File(mp4Parts{}), uint8(6))
	f.Add(webmFile(webmParts{}), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		for i, ct := range contentTypes {
			if kind != 0 && int(kind)%len(contentTypes) != i {
				continue
			}
			start := time.Now()
			for _, keep := range []bool{false, true} {
				Structure(data, ct, Options{KeepLocation: keep})
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Structure(%s) of %d bytes took %v", ct, len(data), d)
			}
		}
	})
}
