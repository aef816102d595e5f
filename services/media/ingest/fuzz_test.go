package ingest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
	"github.com/kinbridge/kinbridge/pkg/mediacheck/corpus"
)

// seeds adds every fixture and every corpus file to a fuzz corpus.
func seeds(f *testing.F, add func(b []byte)) {
	files, err := filepath.Glob("testdata/*.*")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		if strings.HasSuffix(p, ".sh") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
	for _, e := range corpus.All() {
		add(e.Data)
	}
}

func FuzzSniff(f *testing.F) {
	seeds(f, func(b []byte) { f.Add(b[:min(len(b), SniffLen)]) })
	for _, s := range []string{"", "<svg", " <html>", "#!", "MZ", "\x7fELF", "PK\x03\x04", "RIFF\x00\x00\x00\x00WEBP",
		"\x00\x00\x00\x10ftypmif1\x00\x00\x00\x00", "\x1a\x45\xdf\xa3\x84\x42\x82\x81w", "%PDF-1.7"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		ty, err := Sniff(head)
		if err != nil {
			if !errors.Is(err, ErrNotAllowed) || ty != (Type{}) {
				t.Fatalf("Sniff = %+v, %v", ty, err)
			}
			return
		}
		if ty.ContentType == "" || ty.Kind == 0 || !strings.HasPrefix(ty.Ext, ".") {
			t.Fatalf("incomplete type %+v", ty)
		}
		if !HasRebuild(ty) {
			t.Fatalf("Sniff accepts %s, which has no rebuild", ty.ContentType)
		}
	})
}

// rebuildable are the types with a rebuild; the fuzzer picks one per input
// (by its first argument), so every walker sees every input, whatever it
// sniffs as.
var rebuildable = []Type{typeJPEG, typePNG, typeGIF, typeWebP, typeHEIC, typeHEIF, typeMP4, type3GP, typeMOV, typeWebM}

// FuzzRebuild: whatever the upload, Rebuild either refuses it as malformed
// or plans a file that the independent structure walker of pkg/mediacheck
// (which shares no code with the rebuild) finds made only of allowed
// structures, that is not much larger than the upload, that rebuilds to
// itself, and that Unchanged tells apart from the upload exactly when it
// differs. It never panics and never fails otherwise.
func FuzzRebuild(f *testing.F) {
	seeds(f, func(b []byte) {
		ty, err := Sniff(b[:min(len(b), SniffLen)])
		if err != nil {
			return
		}
		for i, r := range rebuildable {
			if r == ty {
				f.Add(uint8(i), false, b)
			}
		}
	})
	f.Add(uint8(0), true, fixture(f, "gps.jpg"))
	f.Fuzz(func(t *testing.T, pick uint8, keep bool, in []byte) {
		ty := rebuildable[int(pick)%len(rebuildable)]
		opt := Options{KeepLocation: keep}
		rb, err := Rebuild(bytes.NewReader(in), int64(len(in)), ty, opt)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Rebuild = %v, want nil or ErrMalformed", err)
			}
			return
		}
		// New metadata is small: a rebuilt EXIF block, a profile, headers.
		if rb.Size() > 2*int64(len(in))+4096 {
			t.Fatalf("%d bytes rebuilt into %d", len(in), rb.Size())
		}
		out, err := rb.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if rb.Unchanged() != bytes.Equal(out, in) {
			t.Fatalf("Unchanged() = %v, but the rebuilt file equal to the upload is %v", rb.Unchanged(), bytes.Equal(out, in))
		}
		if v := mediacheck.Structure(out, ty.ContentType, mediacheck.Options{KeepLocation: keep}); len(v) > 0 {
			t.Fatalf("the rebuilt %s holds structures that are not allowed:\n%s", ty.ContentType, strings.Join(v, "\n"))
		}
		again, err := Rebuild(bytes.NewReader(out), int64(len(out)), ty, opt)
		if err != nil {
			t.Fatalf("the rebuilt file is refused: %v", err)
		}
		if b, _ := again.Bytes(); !bytes.Equal(b, out) {
			t.Fatalf("rebuilding the rebuilt file changed it (%d -> %d bytes)", len(out), len(b))
		}
	})
}
