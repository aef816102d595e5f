package mediacheck

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestSamePicture(t *testing.T) {
	jpg := jpegFile(t, jfif)
	badJPG := bytes.Clone(jpg)
	badJPG[len(badJPG)-6] ^= 0x55 // in the entropy-coded data
	pngOther := pngFile(pngChunk("IHDR", pngIHDR(1, 1)), pngChunk("IDAT", pngIDATOf(0x81)), pngChunk("IEND", nil))
	mp4 := fixture(t, "gps.mp4")
	badMP4 := bytes.Clone(mp4)
	// The frame's slice data ends the mdat (x264's SEI text starts it).
	m := bytes.Index(badMP4, []byte("mdat")) - 4
	end := m + int(binary.BigEndian.Uint32(badMP4[m:]))
	for i := end - 12; i < end-2; i++ {
		badMP4[i] ^= 0xFF
	}
	tests := []struct {
		name, contentType string
		orig, stored      []byte
		same              bool
	}{
		{"jpeg rebuilt", "image/jpeg", fixture(t, "plain.jpg"), jpg, true},
		{"jpeg other pixels", "image/jpeg", jpg, badJPG, false},
		{"png with a gamma chunk", "image/png", cleanPNG(), cleanPNG(pngChunk("gAMA", u32(45455))), true},
		{"png other pixel", "image/png", cleanPNG(), pngOther, false},
		{"gif with XMP dropped", "image/gif", fixture(t, "gps.gif"), fixture(t, "plain.gif"), true},
		{"gif other size", "image/gif", fixture(t, "plain.gif"), gifFile(), false},
		{"webp simple", "image/webp", fixture(t, "gps.webp"), webpFile(webpVP8(t)), true},
		{"webp not a webp", "image/webp", fixture(t, "gps.webp"), []byte("RIFF"), false},
		{"heic with a date added", "image/heic", fixture(t, "gps.heic"), fixture(t, "taken.heic"), true},
		{"heic that does not decode", "image/heic", fixture(t, "gps.heic"), heifFile(heifParts{}), false},
		{"mp4 and mov of one encode", "video/quicktime", fixture(t, "gps.mp4"), fixture(t, "gps.mov"), true},
		{"mp4 with damaged frame", "video/mp4", mp4, badMP4, false},
		{"webm", "video/webm", fixture(t, "gps.webm"), fixture(t, "plain.webm"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := SamePicture(t, tt.contentType, tt.orig, tt.stored)
			if (err == nil) != tt.same {
				t.Errorf("SamePicture = %v, want same: %v", err, tt.same)
			}
		})
	}
}
