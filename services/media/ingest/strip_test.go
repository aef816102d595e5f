package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	_ "image/gif"  // registered for image.Decode
	_ "image/jpeg" // registered for image.Decode
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// memFile is an in-memory file for StripLocation. Reads past the end return
// io.EOF like os.File; writes outside the file fail and are recorded, since
// the stripper must never attempt one.
type memFile struct {
	b       []byte
	outside []string
	writes  int
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(m.b)) || int64(len(p)) > int64(len(m.b))-off {
		m.outside = append(m.outside, fmt.Sprintf("%d bytes at %d", len(p), off))
		return 0, errors.New("write outside the file")
	}
	m.writes++
	return copy(m.b[off:], p), nil
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// strip runs StripLocation over a copy of data and returns the result.
func strip(t *testing.T, data []byte) ([]byte, bool) {
	t.Helper()
	ty, err := Sniff(data[:min(len(data), SniffLen)])
	if err != nil {
		t.Fatalf("Sniff: %v", err)
	}
	f := &memFile{b: bytes.Clone(data)}
	changed, err := StripLocation(f, int64(len(f.b)), ty)
	if err != nil {
		t.Fatalf("StripLocation: %v", err)
	}
	if len(f.outside) > 0 {
		t.Fatalf("writes outside the file: %v", f.outside)
	}
	if len(f.b) != len(data) {
		t.Fatalf("size changed: %d -> %d", len(data), len(f.b))
	}
	return f.b, changed
}

func TestStripLocationFixtures(t *testing.T) {
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
			if found := findLocation(orig); len(found) == 0 {
				t.Fatal("checker finds no location in the original: the fixture or the checker is wrong")
			}
			ty, _ := Sniff(orig[:SniffLen])
			origPath := writeTemp(t, tt.file, orig)
			// exiftool does not take Matroska tags for locations; ffprobe
			// reads them, and the MP4/QuickTime atoms too.
			if loc, ok := exiftoolLocation(t, origPath); ok && len(loc) == 0 && ty.ContentType != "video/webm" {
				t.Fatal("exiftool finds no location in the original")
			}
			if tags, ok := ffprobeLocation(t, origPath); ok && len(tags) == 0 && ty.Kind == Video {
				t.Fatal("ffprobe finds no location in the original")
			}

			out, changed := strip(t, orig)
			if !changed {
				t.Fatal("changed = false for a file with location")
			}
			if found := findLocation(out); len(found) > 0 {
				t.Errorf("location left after stripping: %v", found)
			}
			path := writeTemp(t, tt.file, out)
			if loc, ok := exiftoolLocation(t, path); ok && len(loc) > 0 {
				t.Errorf("exiftool still finds location: %v", loc)
			} else if !ok {
				t.Log("exiftool not on PATH: skipping its check")
			}
			if tags, ok := ffprobeLocation(t, path); ok && len(tags) > 0 {
				t.Errorf("ffprobe still finds location: %v", tags)
			}

			if tt.orientation != 0 {
				if got := Inspect(bytes.NewReader(orig), int64(len(orig)), ty).Orientation; got != tt.orientation {
					t.Errorf("Orientation(original) = %d, want %d", got, tt.orientation)
				}
				if got := Inspect(bytes.NewReader(out), int64(len(out)), ty).Orientation; got != tt.orientation {
					t.Errorf("Orientation(stripped) = %d, want %d", got, tt.orientation)
				}
			}
			decodes(t, ty, orig, out)

			again, changed := strip(t, out)
			if changed || !bytes.Equal(again, out) {
				t.Errorf("second run changed = %v, bytes equal = %v; want a no-op", changed, bytes.Equal(again, out))
			}
		})
	}
}

// decodes checks that a stripped image still decodes to the same pixels.
func decodes(t *testing.T, ty Type, orig, out []byte) {
	t.Helper()
	decode := func(b []byte) (image.Image, error) {
		img, _, err := image.Decode(bytes.NewReader(b))
		return img, err
	}
	switch ty.ContentType {
	case "image/jpeg", "image/png", "image/gif":
	case "image/webp":
		decode = func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }
	default:
		return
	}
	a, err := decode(orig)
	if err != nil {
		t.Fatalf("decoding the original: %v", err)
	}
	b, err := decode(out)
	if err != nil {
		t.Fatalf("decoding the stripped image: %v", err)
	}
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v -> %v", a.Bounds(), b.Bounds())
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				t.Fatalf("pixel (%d,%d) changed", x, y)
			}
		}
	}
}

func TestStripLocationNoLocation(t *testing.T) {
	for _, name := range []string{"plain.jpg", "plain.gif", "plain.webm"} {
		t.Run(name, func(t *testing.T) {
			orig := fixture(t, name)
			out, changed := strip(t, orig)
			if changed || !bytes.Equal(out, orig) {
				t.Fatalf("changed = %v on a file without location", changed)
			}
		})
	}
	// A stripped file keeps the rest of its metadata: orientation already
	// checked above; here, that non-location XMP survives.
	out, _ := strip(t, fixture(t, "gps.jpg"))
	if !bytes.Contains(out, []byte("<x:xmpmeta")) || !bytes.Contains(out, []byte("Exif\x00\x00")) {
		t.Fatal("EXIF or XMP segment lost")
	}
}

// exifOf returns the TIFF block of a JPEG's first APP1 EXIF segment.
func exifOf(t *testing.T, jpg []byte) []byte {
	t.Helper()
	i := bytes.Index(jpg, []byte("Exif\x00\x00"))
	if i < 4 {
		t.Fatal("no EXIF in fixture")
	}
	n := int(binary.BigEndian.Uint16(jpg[i-2:]))
	return bytes.Clone(jpg[i+6 : i-2+n])
}

// pngWithChunk inserts a chunk right after IHDR of a PNG.
func pngWithChunk(t *testing.T, p []byte, typ string, data []byte) []byte {
	t.Helper()
	at := 8 + 12 + int(binary.BigEndian.Uint32(p[8:]))
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	crc := crc32.ChecksumIEEE(append([]byte(typ), data...))
	c = binary.BigEndian.AppendUint32(c, crc)
	return append(append(bytes.Clone(p[:at]), c...), p[at:]...)
}

// rawProfile encodes b the way ImageMagick writes "Raw profile type" text.
func rawProfile(name string, b []byte) []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "\n%s\n%8d\n", name, len(b))
	for i, c := range b {
		fmt.Fprintf(&s, "%02x", c)
		if i%36 == 35 {
			s.WriteByte('\n')
		}
	}
	s.WriteByte('\n')
	return []byte(s.String())
}

func TestStripLocationPNGRawProfile(t *testing.T) {
	tiffBytes := exifOf(t, fixture(t, "gps.jpg"))
	plain, err := png.Decode(bytes.NewReader(fixture(t, "gps.png")))
	if err != nil {
		t.Fatal(err)
	}
	var base bytes.Buffer
	if err := png.Encode(&base, plain); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, keyword, profile string }{
		{"exif", "Raw profile type exif", "exif"},
		{"APP1 with header", "Raw profile type APP1", "APP1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := tiffBytes
			if tc.profile == "APP1" {
				payload = append([]byte("Exif\x00\x00"), tiffBytes...)
			}
			text := append([]byte(tc.keyword+"\x00"), rawProfile(tc.profile, payload)...)
			orig := pngWithChunk(t, base.Bytes(), "tEXt", text)
			if len(findLocation(orig)) == 0 {
				t.Fatal("checker finds no location in the crafted PNG")
			}
			ty := Type{ContentType: "image/png", Kind: Image, Ext: ".png"}
			if o := Inspect(bytes.NewReader(orig), int64(len(orig)), ty).Orientation; o != 6 {
				t.Fatalf("Orientation = %d, want 6 from the raw profile", o)
			}
			out, changed := strip(t, orig)
			if !changed || len(findLocation(out)) > 0 {
				t.Fatalf("changed = %v, left: %v", changed, findLocation(out))
			}
			if o := Inspect(bytes.NewReader(out), int64(len(out)), ty).Orientation; o != 6 {
				t.Fatalf("Orientation after = %d, want 6", o)
			}
			if _, err := png.Decode(bytes.NewReader(out)); err != nil {
				t.Fatalf("stripped PNG does not decode (bad CRC?): %v", err)
			}
			if _, changed := strip(t, out); changed {
				t.Fatal("second run changed the file")
			}
		})
	}
}

// jpegWithSegments inserts APPn segments right after SOI.
func jpegWithSegments(jpg []byte, segs ...[]byte) []byte {
	out := []byte{0xFF, 0xD8}
	for _, s := range segs {
		out = append(out, 0xFF, 0xE1)
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)+2))
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

func TestStripLocationJPEGExtendedXMP(t *testing.T) {
	packet := []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.504N" exif:GPSLongitude="2,17.67E"/>` +
		`</rdf:RDF></x:xmpmeta>`)
	// Split inside "GPSLatitude" so that neither chunk alone holds the name.
	cut := bytes.Index(packet, []byte("GPSLat")) + 3
	guid := "0123456789ABCDEF0123456789ABCDEF"
	chunk := func(off int, data []byte) []byte {
		s := append([]byte("http://ns.adobe.com/xmp/extension/\x00"), guid...)
		s = binary.BigEndian.AppendUint32(s, uint32(len(packet)))
		s = binary.BigEndian.AppendUint32(s, uint32(off))
		return append(s, data...)
	}
	// Chunks out of order on purpose: readers order them by offset.
	orig := jpegWithSegments(fixture(t, "plain.jpg"), chunk(cut, packet[cut:]), chunk(0, packet[:cut]))
	out, changed := strip(t, orig)
	if !changed {
		t.Fatal("changed = false")
	}
	if bytes.Contains(out, []byte("48,51")) || bytes.Contains(out, []byte("2,17")) {
		t.Fatalf("extended XMP location left:\n%q", out)
	}
	if _, _, err := image.Decode(bytes.NewReader(out)); err != nil {
		t.Fatal(err)
	}
}

func TestStripLocationJPEGAppendedImages(t *testing.T) {
	// MPF files store more JPEGs after the first EOI; each has EXIF.
	gps := fixture(t, "gps.jpg")
	orig := append(append(bytes.Clone(gps), gps...), gps...)
	out, changed := strip(t, orig)
	if !changed {
		t.Fatal("changed = false")
	}
	if found := findLocation(out); len(found) > 0 {
		t.Fatalf("location left in appended images: %v", found)
	}
}

func TestStripLocationMalformed(t *testing.T) {
	for _, tc := range []struct{ file, marker string }{
		{"gps.jpg", "Exif\x00\x00"},
		{"gps.png", "eXIf"},
		{"gps.webp", "EXIF"},
		{"gps.heic", "iloc"},
		{"gps.mp4", "loci"},
		{"gps.mov", "\xa9xyz"},
		{"gps-keys.mov", "ilst"},
	} {
		orig := fixture(t, tc.file)
		ty, _ := Sniff(orig)
		// Cut the file just inside the structure that leads to location.
		at := bytes.Index(orig, []byte(tc.marker))
		if at < 0 {
			t.Fatalf("%s: no %q", tc.file, tc.marker)
		}
		cut := orig[:at+len(tc.marker)+6]
		f := &memFile{b: bytes.Clone(cut)}
		_, err := StripLocation(f, int64(len(cut)), ty)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s cut to %d bytes: err = %v, want ErrMalformed", tc.file, len(cut), err)
		}
		if len(f.outside) > 0 {
			t.Errorf("%s: writes outside the file: %v", tc.file, f.outside)
		}
	}
	// GIF and WebM are cleaned on a best-effort basis: cut short, they are
	// left as they are, without an error.
	for _, name := range []string{"gps.gif", "gps.webm"} {
		orig := fixture(t, name)
		ty, _ := Sniff(orig)
		for _, n := range []int{0, 7, len(orig) / 3, len(orig) / 2} {
			f := &memFile{b: bytes.Clone(orig[:n])}
			if _, err := StripLocation(f, int64(n), ty); err != nil || len(f.outside) > 0 {
				t.Errorf("%s cut to %d bytes: err = %v, outside writes %v", name, n, err, f.outside)
			}
		}
	}
	if _, err := StripLocation(&memFile{}, 0, Type{ContentType: "text/html"}); err == nil {
		t.Error("no error for a type that cannot be stripped")
	}
}

// A size smaller than the data (the caller's view of the file) bounds every
// read and write.
func TestStripLocationHonoursSize(t *testing.T) {
	orig := fixture(t, "gps.jpg")
	f := &memFile{b: append(bytes.Clone(orig), make([]byte, 100)...)}
	if _, err := StripLocation(f, int64(len(orig)), Type{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.b[len(orig):], make([]byte, 100)) {
		t.Fatal("bytes past size were written")
	}
}

func TestOrientation(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int
	}{
		{"gps.jpg", 6}, {"gps.png", 6}, {"gps.webp", 6}, {"gps.heic", 6},
		{"plain.jpg", 1}, {"plain.gif", 1}, {"gps.mp4", 1},
	} {
		b := fixture(t, tc.file)
		ty, _ := Sniff(b)
		if got := Inspect(bytes.NewReader(b), int64(len(b)), ty).Orientation; got != tc.want {
			t.Errorf("Orientation(%s) = %d, want %d", tc.file, got, tc.want)
		}
		// Truncated or garbage input reads as 1, never panics.
		if got := Inspect(bytes.NewReader(b[:len(b)/5]), int64(len(b)/5), ty).Orientation; got < 1 || got > 8 {
			t.Errorf("Orientation(truncated %s) = %d", tc.file, got)
		}
	}
}

// A multi-GB video on disk: the moov after a 5 GiB mdat (64-bit box size) is
// found by seeking, not reading, and cleaned through *os.File. The file is
// sparse, so this costs no disk space.
func TestStripLocationLargeFile(t *testing.T) {
	src := fixture(t, "gps.mp4")
	// gps.mp4 is ftyp, free, moov, uuid (XMP), mdat: keep the boxes before
	// mdat, and put them after a huge mdat instead.
	mdatAt := bytes.Index(src, []byte("mdat")) - 4
	meta := src[:mdatAt]
	ftypEnd := int(binary.BigEndian.Uint32(src))
	const mdatSize = 5<<30 + 16
	var hdr []byte
	hdr = append(hdr, src[:ftypEnd]...)
	hdr = append(hdr, 0, 0, 0, 1, 'm', 'd', 'a', 't')
	hdr = binary.BigEndian.AppendUint64(hdr, mdatSize)

	f, err := os.Create(filepath.Join(t.TempDir(), "big.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	tailAt := int64(ftypEnd) + mdatSize
	if _, err := f.WriteAt(meta[ftypEnd:], tailAt); err != nil {
		t.Skipf("cannot make a sparse 5 GiB file here: %v", err)
	}
	size := tailAt + int64(len(meta)-ftypEnd)
	if len(findLocation(meta[ftypEnd:])) == 0 {
		t.Fatal("moov and uuid of the fixture hold no location")
	}

	changed, err := StripLocation(f, size, Type{ContentType: "video/mp4", Kind: Video, Ext: ".mp4"})
	if err != nil || !changed {
		t.Fatalf("changed = %v, err = %v", changed, err)
	}
	st, _ := f.Stat()
	if st.Size() != size {
		t.Fatalf("size %d -> %d", size, st.Size())
	}
	tail := make([]byte, size-tailAt)
	if _, err := f.ReadAt(tail, tailAt); err != nil {
		t.Fatal(err)
	}
	if found := findLocation(tail); len(found) > 0 {
		t.Fatalf("location left: %v", found)
	}
}
