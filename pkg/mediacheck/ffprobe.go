package mediacheck

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// FFprobe asks ffprobe, when it is installed, for container tags naming a
// location (ffmpeg maps ©xyz, loci, mdta keys and Matroska tags to them).
// It returns nil, false without ffprobe, or for a file it cannot read.
func FFprobe(t testing.TB, path string) ([]string, bool) {
	t.Helper()
	bin, err := exec.LookPath("ffprobe")
	if err != nil {
		return nil, false
	}
	out, err := exec.Command(bin, "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", path).Output()
	if err != nil {
		return nil, false
	}
	var res struct {
		Format  struct{ Tags map[string]string }
		Streams []struct{ Tags map[string]string }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	var found []string
	check := func(tags map[string]string) {
		for k, v := range tags {
			if strings.Contains(strings.ToLower(k), "location") || strings.Contains(v, "48.8584") {
				found = append(found, k+"="+v)
			}
		}
	}
	check(res.Format.Tags)
	for _, s := range res.Streams {
		check(s.Tags)
	}
	return found, true
}
