package ingest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// rebuilt runs Rebuild over data and returns the rebuilt bytes.
func rebuilt(t testing.TB, data []byte, opt Options) ([]byte, *Rebuilt) {
	t.Helper()
	ty, err := Sniff(data[:min(len(data), SniffLen)])
	if err != nil {
		t.Fatalf("Sniff: %v", err)
	}
	rb, err := Rebuild(bytes.NewReader(data), int64(len(data)), ty, opt)
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	out, err := rb.Bytes()
	if err != nil {
		t.Fatalf("writing the rebuilt file: %v", err)
	}
	if int64(len(out)) != rb.Size() {
		t.Fatalf("wrote %d bytes, Size says %d", len(out), rb.Size())
	}
	return out, rb
}

func TestRebuildFixtures(t *testing.T) {
	tests := []struct {
		file        string
		orientation int // 0 for types without one
	}{
		{"gps.jpg", 6},
		{"gps.png", 6},
		{"gps-im.png", 6},
		{"gps.webp", 6},
		{"gps.heic", 6},
		{"gps.mp4", 0},
		{"gps.mov", 0},
		{"gps-keys.mov", 0},
		{"gps.gif", 0},
		{"gps.webm", 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			orig := fixture(t, tt.file)
			ty, _ := Sniff(orig[:SniffLen])
			if !HasRebuild(ty) {
				t.Skipf("no rebuild for %s yet", ty.ContentType)
			}
			if found := findLocation(orig); len(found) == 0 {
				t.Fatal("checker finds no location in the original: the fixture or the checker is wrong")
			}
			out, rb := rebuilt(t, orig, Options{})
			if found := findLocation(out); len(found) > 0 {
				t.Errorf("location left after the rebuild: %v", found)
			}
			if rb.Unchanged() {
				t.Error("Unchanged() is true for a file the rebuild changed")
			}
			path := writeTemp(t, tt.file, out)
			if loc, ok := exiftoolLocation(t, path); ok && len(loc) > 0 {
				t.Errorf("exiftool still finds location: %v", loc)
			}
			if tags, ok := ffprobeLocation(t, path); ok && len(tags) > 0 {
				t.Errorf("ffprobe still finds location: %v", tags)
			}
			if tt.orientation != 0 {
				if rb.Info.Orientation != tt.orientation {
					t.Errorf("Info.Orientation = %d, want %d", rb.Info.Orientation, tt.orientation)
				}
				if got := Inspect(bytes.NewReader(out), int64(len(out)), ty).Orientation; got != tt.orientation {
					t.Errorf("Orientation(rebuilt) = %d, want %d", got, tt.orientation)
				}
			}
			decodes(t, ty, orig, out)
			again, rb2 := rebuilt(t, out, Options{})
			if !bytes.Equal(again, out) || !rb2.Unchanged() {
				t.Errorf("rebuilding the rebuilt file changed it (%d -> %d bytes, Unchanged %v); want a fixed point", len(out), len(again), rb2.Unchanged())
			}
		})
	}
}

func TestRebuildKeepsTakenTime(t *testing.T) {
	want := time.Date(2026, 5, 14, 7, 30, 0, 0, time.UTC)
	for _, name := range []string{"taken.jpg", "taken.heic", "taken.mp4", "taken.webm"} {
		t.Run(name, func(t *testing.T) {
			orig := fixture(t, name)
			ty, _ := Sniff(orig[:min(len(orig), SniffLen)])
			if !HasRebuild(ty) {
				t.Skipf("no rebuild for %s yet", ty.ContentType)
			}
			out, rb := rebuilt(t, orig, Options{})
			if !rb.Info.TakenTime.Equal(want) {
				t.Errorf("Info.TakenTime = %v, want %v", rb.Info.TakenTime, want)
			}
			if got := Inspect(bytes.NewReader(out), int64(len(out)), ty).TakenTime; !got.Equal(want) {
				t.Errorf("TakenTime(rebuilt) = %v, want %v", got, want)
			}
		})
	}
}

// TestRebuildKeepLocation: with Options.KeepLocation a photo keeps its
// EXIF GPS directory and a QuickTime movie its ©xyz position, and nothing
// else the allowlist drops (no XMP or IPTC place names); the independent
// walker, told positions are kept, finds only allowed structures.
func TestRebuildKeepLocation(t *testing.T) {
	for _, name := range []string{"gps.jpg", "gps.png", "gps.webp", "gps.heic", "gps.mov"} {
		t.Run(name, func(t *testing.T) {
			orig := fixture(t, name)
			ty, _ := Sniff(orig[:SniffLen])
			out, _ := rebuilt(t, orig, Options{KeepLocation: true})
			if len(findLocation(out)) == 0 {
				t.Error("KeepLocation: no position kept")
			}
			if bytes.Contains(out, []byte("Paris")) || bytes.Contains(out, []byte("xmpmeta")) {
				t.Error("KeepLocation kept XMP or IPTC: only the GPS position is kept")
			}
			if v := mediacheck.Structure(out, ty.ContentType, mediacheck.Options{KeepLocation: true}); len(v) > 0 {
				t.Errorf("structures that are not allowed:\n%s", strings.Join(v, "\n"))
			}
		})
	}
	if out, _ := rebuilt(t, fixture(t, "gps.jpg"), Options{}); gpsLinked(exifOf(t, out)) {
		t.Error("without KeepLocation the JPEG kept its GPS directory")
	}
}

func TestRebuildRefusesUnwalkable(t *testing.T) {
	jpg := fixture(t, "plain.jpg")
	eoi := bytes.LastIndex(jpg, []byte{0xFF, 0xD9})
	tests := map[string][]byte{
		"jpeg cut in a segment":   jpg[:20],
		"jpeg without end marker": jpg[:eoi],
		"jpeg segment past end":   append(bytes.Clone(jpg[:2]), 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'),
		"jpeg without scan":       {0xFF, 0xD8, 0xFF, 0xD9},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) { refused(t, data) })
	}
}
