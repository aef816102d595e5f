package ingest

import (
	"os"
	"testing"

	"github.com/kinbridge/kinbridge/services/media/ingest/locationcheck"
)

// The independent location checks live in locationcheck, shared with the
// whole-stack tests.
var (
	findLocation     = locationcheck.Find
	gpsLinked        = locationcheck.GPSLinked
	exiftoolLocation = locationcheck.Exiftool
	ffprobeLocation  = locationcheck.FFprobe
)

// writeTemp writes b to a file in a test temp dir and returns its path.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
