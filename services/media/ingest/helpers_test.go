package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	_ "image/gif"  // registered for image.Decode
	_ "image/jpeg" // registered for image.Decode
	_ "image/png"  // registered for image.Decode
	"os"
	"path/filepath"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// fixture reads a file of testdata (made by testdata/make*.sh).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodes checks that a rebuilt image decodes to the same pixels as the
// original (mediacheck.SamePicture), for the types Go decodes; others are
// left to the tests that run their decoders.
func decodes(t *testing.T, ty Type, orig, out []byte) {
	t.Helper()
	switch ty.ContentType {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		if err := mediacheck.SamePicture(t, ty.ContentType, orig, out); err != nil {
			t.Fatal(err)
		}
	}
}

// exifOf returns the TIFF block of a JPEG's first APP1 EXIF segment.
func exifOf(t *testing.T, jpg []byte) []byte {
	t.Helper()
	i := bytes.Index(jpg, []byte("Exif\x00\x00"))
	if i < 4 {
		t.Fatal("no EXIF in the JPEG")
	}
	n := int(binary.BigEndian.Uint16(jpg[i-2:]))
	return bytes.Clone(jpg[i+6 : i-2+n])
}

// refused checks that Rebuild refuses data as malformed.
func refused(t *testing.T, data []byte) {
	t.Helper()
	ty, err := Sniff(data[:min(len(data), SniffLen)])
	if err != nil {
		t.Fatal(err)
	}
	_, err = Rebuild(bytes.NewReader(data), int64(len(data)), ty, Options{})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Rebuild = %v, want ErrMalformed", err)
	}
	if Reason(err) == "" || Reason(err) == err.Error() {
		t.Errorf("Reason(%v) = %q", err, Reason(err))
	}
}
