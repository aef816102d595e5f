package ingest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seeds adds every fixture (and its first SniffLen bytes) to a fuzz corpus.
func seeds(f *testing.F, add func(name string, b []byte)) {
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
		add(filepath.Base(p), b)
	}
}

func FuzzSniff(f *testing.F) {
	seeds(f, func(_ string, b []byte) { f.Add(b[:min(len(b), SniffLen)]) })
	for _, s := range []string{"", "<svg", " <html>", "#!", "MZ", "\x7fELF", "PK\x03\x04", "RIFF\x00\x00\x00\x00WEBP",
		"\x00\x00\x00\x10ftypmif1\x00\x00\x00\x00", "\x1a\x45\xdf\xa3\x84\x42\x82\x81w"} {
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
		// Every allowed type is one StripLocation handles.
		if _, err := StripLocation(&memFile{}, 0, ty); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("StripLocation cannot handle sniffed type %+v: %v", ty, err)
		}
	})
}

// strippable are the types with a location parser; the fuzzer picks one per
// input, so every parser sees every input, whatever it sniffs as.
var strippable = []Type{typeJPEG, typePNG, typeWebP, typeHEIC, typeMP4, typeMOV, typeGIF, typeWebM}

func FuzzStripLocation(f *testing.F) {
	seeds(f, func(_ string, b []byte) {
		ty, err := Sniff(b[:min(len(b), SniffLen)])
		if err != nil {
			f.Fatal(err)
		}
		for i, s := range strippable {
			if s.ContentType == ty.ContentType || (s == typeHEIC && ty.Kind == Image && strings.HasPrefix(ty.ContentType, "image/hei")) {
				f.Add(b, uint8(i))
			}
		}
	})
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		ty := strippable[int(which)%len(strippable)]
		if o := Inspect(bytes.NewReader(data), int64(len(data)), ty).Orientation; o < 1 || o > 8 {
			t.Fatalf("Orientation = %d", o)
		}
		m := &memFile{b: bytes.Clone(data)}
		_, err := StripLocation(m, int64(len(data)), ty)
		if len(m.outside) > 0 {
			t.Fatalf("writes outside the file: %v", m.outside)
		}
		if len(m.b) != len(data) {
			t.Fatal("size changed")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		// A file that was cleaned without error is clean: a second pass has
		// nothing left to do.
		once := bytes.Clone(m.b)
		changed, err := StripLocation(m, int64(len(data)), ty)
		if err != nil || changed || !bytes.Equal(once, m.b) {
			t.Fatalf("second pass: changed = %v, err = %v, bytes equal = %v", changed, err, bytes.Equal(once, m.b))
		}
	})
}

// FuzzCleanEXIF checks the EXIF cleaner directly, where the fuzzer reaches
// odd directory layouts much faster than through a container: the block
// keeps its length, no GPS link is left for the independent checker to find,
// and a second pass changes nothing.
func FuzzCleanEXIF(f *testing.F) {
	seeds(f, func(_ string, b []byte) {
		for _, sig := range []string{"II*\x00", "MM\x00*"} {
			if i := bytes.Index(b, []byte(sig)); i >= 0 {
				f.Add(b[i:min(len(b), i+2048)])
			}
		}
	})
	// Found by this target: IFD0's next link is 0, and a reader that took
	// 0 for an IFD would find a GPS entry in the header's shadow.
	f.Add([]byte("MM\x00*\x00\x00\x00\x08\x00\x06" + strings.Repeat("0", 64) + "\x88%000000\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		b := bytes.Clone(in) // the engine keeps in; never edit it
		n := len(b)
		cleanEXIF(b)
		if len(b) != n {
			t.Fatal("length changed")
		}
		if gpsLinked(b) {
			t.Fatal("GPS link left")
		}
		again := bytes.Clone(b)
		cleanEXIF(again)
		if !bytes.Equal(again, b) {
			t.Fatal("second pass changed the block")
		}
	})
}

// FuzzCleanXMP checks the XMP scanner: same length, idempotent.
func FuzzCleanXMP(f *testing.F) {
	seeds(f, func(_ string, b []byte) {
		if i := bytes.Index(b, []byte("<x:xmpmeta")); i >= 0 {
			f.Add(b[i:min(len(b), i+4096)])
		}
	})
	f.Add([]byte(`<a <exif:GPSLatitude>x</exif:GPSLatitude> exif:GPSLongitude="1">`))
	f.Fuzz(func(t *testing.T, in []byte) {
		b := bytes.Clone(in)
		n := len(b)
		cleanXMP(b)
		if len(b) != n {
			t.Fatal("length changed")
		}
		again := bytes.Clone(b)
		cleanXMP(again)
		if !bytes.Equal(again, b) {
			t.Fatal("second pass changed the packet")
		}
	})
}
