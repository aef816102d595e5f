package ingest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
	"github.com/kinbridge/kinbridge/pkg/mediacheck/corpus"
)

// TestRebuildCorpus rebuilds every file of the adversarial corpus: a file
// whose structure is broken on purpose is refused as malformed; every other
// one comes back holding only allowed structures (judged by the independent
// walker of pkg/mediacheck), with neither its planted marker nor any trace
// of the position, showing the same picture, and rebuilding it again
// changes nothing. make e2e uploads the same corpus through every upload
// path and asks exiftool too.
func TestRebuildCorpus(t *testing.T) {
	for _, e := range corpus.All() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ty, err := Sniff(e.Data[:min(len(e.Data), SniffLen)])
			if err != nil {
				t.Fatalf("Sniff: %v", err)
			}
			if ty.ContentType != e.ContentType {
				t.Fatalf("sniffed as %s, the manifest says %s", ty.ContentType, e.ContentType)
			}
			rb, err := Rebuild(bytes.NewReader(e.Data), int64(len(e.Data)), ty, Options{})
			if e.Expect == corpus.ExpectRefused {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Rebuild = %v, want a refusal as malformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Rebuild: %v", err)
			}
			out, err := rb.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if v := mediacheck.Structure(out, ty.ContentType); len(v) > 0 {
				t.Errorf("structures that are not allowed:\n%s", strings.Join(v, "\n"))
			}
			if e.HasMarker(out) {
				t.Errorf("the marker %s survived", e.Marker)
			}
			if found := findLocation(out); len(found) > 0 {
				t.Errorf("traces of the position survived: %v", found)
			}
			if again, _ := rebuilt(t, out, Options{}); !bytes.Equal(again, out) {
				t.Errorf("rebuilding the rebuilt file changed it (%d -> %d bytes)", len(out), len(again))
			}
			if err := mediacheck.SamePicture(t, ty.ContentType, e.Data, out); err != nil {
				t.Errorf("not the same picture: %v", err)
			}
		})
	}
}
