package ingest

import (
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// TestRebuildOracle judges every rebuilt fixture with the independent
// checkers of pkg/mediacheck: only allowed structures, no position exiftool
// can find, and the same picture or film.
func TestRebuildOracle(t *testing.T) {
	for _, name := range []string{"plain.jpg", "gps.jpg", "taken.jpg", "gps.png", "gps-im.png", "gps.webp",
		"gps.heic", "taken.heic", "gps.mp4", "taken.mp4", "gps.mov", "gps-keys.mov", "gps.gif", "plain.gif",
		"gps.webm", "plain.webm", "taken.webm", "frag.mp4", "frag-nobase.mp4"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			orig := fixture(t, name)
			ty, _ := Sniff(orig[:min(len(orig), SniffLen)])
			if !HasRebuild(ty) {
				t.Skipf("no rebuild for %s yet", ty.ContentType)
			}
			for _, keep := range []bool{false, true} {
				out, _ := rebuilt(t, orig, Options{KeepLocation: keep})
				if v := mediacheck.Structure(out, ty.ContentType, mediacheck.Options{KeepLocation: keep}); len(v) > 0 {
					t.Errorf("KeepLocation=%v: the rebuilt file holds structures it may not:\n%s", keep, strings.Join(v, "\n"))
				}
				if keep {
					continue
				}
				if found, ok := mediacheck.Positions(t, writeTemp(t, name, out)); ok && len(found) > 0 {
					t.Errorf("exiftool finds a position in the rebuilt file:\n%s", strings.Join(found, "\n"))
				}
				if err := mediacheck.SamePicture(t, ty.ContentType, orig, out); err != nil {
					t.Errorf("the rebuilt file does not show the same picture: %v", err)
				}
			}
		})
	}
}
