package ingest

import (
	"os"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// The independent location checks live in pkg/mediacheck, shared with the
// whole-stack tests; these names keep the ingest tests short.
var (
	findLocation     = mediacheck.Find
	gpsLinked        = mediacheck.GPSLinked
	exiftoolLocation = mediacheck.Exiftool
	ffprobeLocation  = mediacheck.FFprobe
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
