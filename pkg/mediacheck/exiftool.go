package mediacheck

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// Exiftool asks exiftool, when it is installed, for every location tag it
// can find in a file. It returns nil, false without exiftool.
func Exiftool(t testing.TB, path string) (map[string]any, bool) {
	t.Helper()
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		return nil, false
	}
	out, err := exec.Command(bin, "-j", "-a", "-G1", "-ee",
		"-gps:all", "-location:all", "-GPSLatitude", "-GPSLongitude", "-GPSPosition",
		"-GPSCoordinates", "-ISO6709", "-LocationInformation", "-City", path).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("exiftool: %v", err)
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("exiftool output %q: %v", out, err)
	}
	delete(res[0], "SourceFile")
	return res[0], true
}
