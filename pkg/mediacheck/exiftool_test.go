package mediacheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// fixtures is the ingest fixtures folder: files made with a location (gps.*,
// taken.*) and without (plain.*).
var fixtures = filepath.Join("..", "..", "services", "media", "ingest", "testdata")

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeTemp writes b to a file in a test temp dir and returns its path.
func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPositionsFixtures(t *testing.T) {
	testenv.Tool(t, "exiftool")
	for _, name := range []string{"gps.jpg", "gps.png", "gps-im.png", "gps.webp", "gps.heic",
		"gps.mp4", "gps.mov", "gps-keys.mov", "gps.gif", "gps.webm"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			found, ok := Positions(t, filepath.Join(fixtures, name))
			if !ok {
				t.Fatal("exiftool vanished")
			}
			if len(found) == 0 {
				t.Error("no position found in a fixture made with one")
			}
			t.Logf("%d findings: %s", len(found), strings.Join(found, "\n"))
		})
	}
	for _, name := range []string{"plain.jpg", "plain.gif", "plain.webm"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if found, _ := Positions(t, filepath.Join(fixtures, name)); len(found) > 0 {
				t.Errorf("false alarm on a clean file: %v", found)
			}
		})
	}
}

func TestPositionsValues(t *testing.T) {
	testenv.Tool(t, "exiftool")
	// A clean PNG with a text chunk whose keyword and text say nothing of
	// place but whose text holds a point: found by value alone.
	for _, tc := range []struct{ text, want string }{
		{"+40.6892-074.0445/", "ISO 6709"},
		{"+404121-0740240/", "ISO 6709"},
		{"+40.6892-074.0445+010.000/", "ISO 6709"},
		{"seen at 40 deg 41' 21.12\" N", "degrees"},
		{"40,41.35N", "degrees"},
		{"40°41'21\"N", "degrees"},
		{"kinbridge-marker-7f3a", "marker"},
	} {
		t.Run(tc.text, func(t *testing.T) {
			t.Parallel()
			png := pngFile(pngChunk("IHDR", pngIHDR(1, 1)), pngChunk("tEXt", []byte("Comment\x00"+tc.text)),
				pngChunk("IDAT", pngIDAT1x1()), pngChunk("IEND", nil))
			found, _ := Positions(t, writeTemp(t, "v.png", png), "kinbridge-marker-7f3a")
			if !strings.Contains(strings.Join(found, "\n"), tc.want) {
				t.Errorf("found %v, want a %s finding", found, tc.want)
			}
		})
	}
	clean := pngFile(pngChunk("IHDR", pngIHDR(1, 1)), pngChunk("tEXt", []byte("Comment\x00version 1.0-123, 2026-05-14 +02:00")),
		pngChunk("IDAT", pngIDAT1x1()), pngChunk("IEND", nil))
	if found, _ := Positions(t, writeTemp(t, "c.png", clean)); len(found) > 0 {
		t.Errorf("false alarm: %v", found)
	}
}
