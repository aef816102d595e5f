package ingest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"os/exec"
	"testing"
)

// The planted strings: each adversarial file hides one of them where the
// rebuild must not look, and the rebuilt file must not hold any.
var planted = [][]byte{
	[]byte("+48.8584+002.2945/"),
	[]byte("PLANTED"),
}

// testCRCChunk is a PNG chunk, written independently of the rebuilder's.
func testPNGChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(append(c, typ...), data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// testPNG is a PNG as a list of whole chunks, after the signature.
type testPNG [][]byte

// parseTestPNG splits an encoded PNG into its chunks.
func parseTestPNG(t testing.TB, b []byte) testPNG {
	t.Helper()
	var p testPNG
	for off := 8; off < len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		p = append(p, b[off:off+12+n])
		off += 12 + n
	}
	return p
}

func (p testPNG) bytes() []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	for _, c := range p {
		b = append(b, c...)
	}
	return b
}

// index is the position of the first chunk of type typ, or -1.
func (p testPNG) index(typ string) int {
	for i, c := range p {
		if string(c[4:8]) == typ {
			return i
		}
	}
	return -1
}

// insert returns p with chunks inserted before position i.
func (p testPNG) insert(i int, chunks ...[]byte) testPNG {
	out := append(testPNG{}, p[:i]...)
	out = append(out, chunks...)
	return append(out, p[i:]...)
}

// chunkTypes lists the chunk types of a PNG file.
func chunkTypes(t testing.TB, b []byte) []string {
	var types []string
	for _, c := range parseTestPNG(t, b) {
		types = append(types, string(c[4:8]))
	}
	return types
}

// gradient is a 16x16 test picture with some transparency.
func gradient() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			m.SetNRGBA(x, y, color.NRGBA{uint8(16 * x), uint8(16 * y), 128, uint8(255 - 8*x)})
		}
	}
	return m
}

// basePNG encodes m; with small IDATs when split, so the data spans several
// chunks.
func basePNG(t testing.TB, m image.Image) testPNG {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return parseTestPNG(t, b.Bytes())
}

// splitIDAT cuts the one IDAT chunk of p into chunks of at most k bytes.
func splitIDAT(p testPNG, k int) testPNG {
	i := p.index("IDAT")
	data := p[i][8 : len(p[i])-4]
	var parts [][]byte
	for len(data) > 0 {
		n := min(k, len(data))
		parts = append(parts, testPNGChunk("IDAT", data[:n]))
		data = data[n:]
	}
	out := append(testPNG{}, p[:i]...)
	out = append(out, parts...)
	return append(out, p[i+1:]...)
}

// testICC is a small v2 RGB profile with a white point, a copyright text
// and a private tag, both holding a planted string.
func testICC() []byte {
	be := binary.BigEndian
	wtpt := append([]byte("XYZ \x00\x00\x00\x00"), make([]byte, 12)...)
	be.PutUint32(wtpt[8:], 0xF6D6)
	cprt := append([]byte("text\x00\x00\x00\x00"), "PLANTED copyright\x00"...)
	priv := append([]byte("data\x00\x00\x00\x00"), "+48.8584+002.2945/"...)
	tags := []struct {
		sig  string
		data []byte
	}{{"wtpt", wtpt}, {"cprt", cprt}, {"gps ", priv}}
	p := make([]byte, 128)
	p[8] = 2
	copy(p[12:], "mntrRGB XYZ ")
	copy(p[36:], "acsp")
	be.PutUint32(p[68:], 0xF6D6) // D50 illuminant
	be.PutUint32(p[72:], 0x10000)
	be.PutUint32(p[76:], 0xD32D)
	p = be.AppendUint32(p, uint32(len(tags)))
	table := len(p)
	p = append(p, make([]byte, 12*len(tags))...)
	for i, tg := range tags {
		for len(p)%4 != 0 {
			p = append(p, 0)
		}
		e := p[table+12*i:]
		copy(e, tg.sig)
		be.PutUint32(e[4:], uint32(len(p)))
		be.PutUint32(e[8:], uint32(len(tg.data)))
		p = append(p, tg.data...)
	}
	be.PutUint32(p, uint32(len(p)))
	return p
}

func zlibBytes(p []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

// gpsTIFF is the EXIF block of the gps.png fixture: orientation 6 and a
// GPS directory.
func gpsTIFF(t testing.TB) []byte {
	p := parseTestPNG(t, fixture(t, "gps.png"))
	i := p.index("eXIf")
	if i < 0 {
		t.Fatal("gps.png has no eXIf chunk")
	}
	return bytes.Clone(p[i][8 : len(p[i])-4])
}

// checkRebuilt runs the checks every adversarial file must pass: no planted
// string and no location left, same pixels, and a fixed point. It returns
// the rebuilt file.
func checkRebuilt(t *testing.T, in []byte, decode bool) ([]byte, *Rebuilt) {
	t.Helper()
	out, rb := rebuilt(t, in, Options{})
	for _, p := range planted {
		if bytes.Contains(out, p) {
			t.Errorf("planted %q left in the rebuilt file", p)
		}
	}
	if found := findLocation(out); len(found) > 0 {
		t.Errorf("location left: %v", found)
	}
	if decode {
		ty, _ := Sniff(in[:min(len(in), SniffLen)])
		decodes(t, ty, in, out)
	}
	again, _ := rebuilt(t, out, Options{})
	if !bytes.Equal(again, out) {
		t.Errorf("rebuilding the rebuilt file changed it (%d -> %d bytes)", len(out), len(again))
	}
	return out, rb
}

func TestRebuildPNGDrops(t *testing.T) {
	base := basePNG(t, gradient())
	iend := base.index("IEND")
	text := func(typ, kw, s string) []byte {
		switch typ {
		case "zTXt":
			return testPNGChunk(typ, append([]byte(kw+"\x00\x00"), zlibBytes([]byte(s))...))
		case "iTXt":
			return testPNGChunk(typ, []byte(kw+"\x00\x00\x00\x00\x00"+s))
		}
		return testPNGChunk(typ, []byte(kw+"\x00"+s))
	}
	xmp := `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="48,51.5N" exif:GPSLongitude="2,17.6E"/></rdf:RDF></x:xmpmeta>`
	tests := map[string]testPNG{
		"XMP in iTXt":            base.insert(1, text("iTXt", "XML:com.adobe.xmp", xmp)),
		"tEXt":                   base.insert(1, text("tEXt", "Comment", "PLANTED +48.8584+002.2945/")),
		"zTXt raw profile":       base.insert(1, text("zTXt", "Raw profile type xmp", "\nxmp\n 10\nPLANTED...\n")),
		"tIME":                   base.insert(1, testPNGChunk("tIME", []byte("PLANTED"))),
		"private gpSx":           base.insert(1, testPNGChunk("gpSx", []byte("+48.8584+002.2945/"))),
		"unknown critical":       base.insert(1, testPNGChunk("GPSX", []byte("PLANTED"))),
		"eXIf named exIf":        base.insert(1, testPNGChunk("exIf", append(gpsTIFF(t), "PLANTED"...))),
		"chunk after IEND":       append(base, testPNGChunk("tEXt", []byte("k\x00+48.8584+002.2945/"))),
		"bytes after IEND":       append(base, []byte("PLANTED +48.8584+002.2945/")),
		"bKGD of the wrong size": base.insert(1, testPNGChunk("bKGD", []byte("PLANTED"))),
		"pHYs after IDAT":        base.insert(iend, testPNGChunk("pHYs", []byte("PLANTED\x00\x01"))),
		"eXIf after IDAT":        base.insert(iend, testPNGChunk("eXIf", gpsTIFF(t))),
		"second eXIf":            base.insert(1, testPNGChunk("eXIf", []byte("MM\x00*\x00\x00\x00\x08\x00\x00")), testPNGChunk("eXIf", append(gpsTIFF(t), "PLANTED"...))),
		"text after the IDATs":   splitIDAT(base, 64).insert(len(splitIDAT(base, 64))-1, text("tEXt", "a", "PLANTED")),
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			checkRebuilt(t, p.bytes(), true)
		})
	}
}

func TestRebuildPNGKeeps(t *testing.T) {
	t.Run("EXIF orientation, no GPS", func(t *testing.T) {
		in := basePNG(t, gradient()).insert(1, testPNGChunk("eXIf", gpsTIFF(t)))
		out, rb := checkRebuilt(t, in.bytes(), true)
		if rb.Info.Orientation != 6 {
			t.Errorf("Info.Orientation = %d, want 6", rb.Info.Orientation)
		}
		if got := Inspect(bytes.NewReader(out), int64(len(out)), typePNG).Orientation; got != 6 {
			t.Errorf("Orientation(rebuilt) = %d, want 6", got)
		}
	})
	t.Run("split IDAT stays consecutive", func(t *testing.T) {
		in := splitIDAT(basePNG(t, gradient()), 50)
		out, _ := checkRebuilt(t, in.bytes(), true)
		if !bytes.Equal(out, in.bytes()) {
			t.Errorf("a clean PNG changed: %v -> %v", chunkTypes(t, in.bytes()), chunkTypes(t, out))
		}
	})
	t.Run("palette with transparency", func(t *testing.T) {
		pal := image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 128}})
		for i := range pal.Pix {
			pal.Pix[i] = uint8(i % 3)
		}
		in := basePNG(t, pal).insert(1, testPNGChunk("gAMA", []byte{0, 0, 0xB1, 0x8F}), testPNGChunk("sRGB", []byte{0}))
		out, _ := checkRebuilt(t, in.bytes(), true)
		want := []string{"IHDR", "gAMA", "sRGB", "PLTE", "tRNS", "IDAT", "IEND"}
		if got := chunkTypes(t, out); !equalStrings(got, want) {
			t.Errorf("chunks %v, want %v", got, want)
		}
	})
	t.Run("ICC profile cleaned", func(t *testing.T) {
		iccp := testPNGChunk("iCCP", append([]byte("PLANTED name\x00\x00"), zlibBytes(testICC())...))
		second := testPNGChunk("iCCP", append([]byte("second\x00\x00"), zlibBytes(testICC())...))
		in := basePNG(t, gradient()).insert(1, iccp, second)
		out, _ := checkRebuilt(t, in.bytes(), true)
		p := parseTestPNG(t, out)
		i := p.index("iCCP")
		if want := []string{"IHDR", "iCCP", "IDAT", "IEND"}; !equalStrings(chunkTypes(t, out), want) {
			t.Fatalf("chunks %v, want %v", chunkTypes(t, out), want)
		}
		data := p[i][8 : len(p[i])-4]
		if !bytes.HasPrefix(data, []byte("ICC profile\x00\x00")) {
			t.Errorf("iCCP name: %q", data[:min(len(data), 14)])
		}
		zr, err := zlib.NewReader(bytes.NewReader(data[len("ICC profile\x00\x00"):]))
		if err != nil {
			t.Fatal(err)
		}
		profile, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(profile, []byte("wtpt")) {
			t.Error("white point lost from the profile")
		}
		for _, s := range planted {
			if bytes.Contains(profile, s) {
				t.Errorf("planted %q left in the profile", s)
			}
		}
	})
	t.Run("APNG", func(t *testing.T) {
		base := basePNG(t, gradient())
		idat := base[base.index("IDAT")]
		fctl := func(seq uint32) []byte {
			d := binary.BigEndian.AppendUint32(nil, seq)
			d = binary.BigEndian.AppendUint32(d, 16)
			d = binary.BigEndian.AppendUint32(d, 16)
			d = append(d, make([]byte, 8)...)
			d = append(d, 0, 1, 0, 10, 0, 0) // delay 1/10, dispose none, blend source
			return testPNGChunk("fcTL", d)
		}
		fdat := testPNGChunk("fdAT", append(binary.BigEndian.AppendUint32(nil, 2), idat[8:len(idat)-4]...))
		actl := testPNGChunk("acTL", []byte{0, 0, 0, 2, 0, 0, 0, 0})
		i := base.index("IDAT")
		in := base.insert(i+1, fctl(1), testPNGChunk("gpSx", []byte("PLANTED")), fdat).insert(i, actl, fctl(0))
		out, _ := checkRebuilt(t, in.bytes(), true)
		want := []string{"IHDR", "acTL", "fcTL", "IDAT", "fcTL", "fdAT", "IEND"}
		if got := chunkTypes(t, out); !equalStrings(got, want) {
			t.Errorf("chunks %v, want %v", got, want)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRebuildPNGRefuses(t *testing.T) {
	base := basePNG(t, gradient())
	i := base.index("IDAT")
	badCRC := func(c []byte) []byte {
		c = bytes.Clone(c)
		c[len(c)-1] ^= 1
		return c
	}
	withChunk := func(at int, c []byte) []byte { return base.insert(at, c).bytes() }
	replaced := func(at int, c []byte) []byte {
		p := append(testPNG{}, base...)
		p[at] = c
		return p.bytes()
	}
	whole := base.bytes()
	split := splitIDAT(base, 16)
	if split.index("IEND")-i < 3 {
		t.Fatal("IDAT not split")
	}
	tests := map[string][]byte{
		"bad CRC on IDAT":          replaced(i, badCRC(base[i])),
		"bad CRC on IHDR":          replaced(0, badCRC(base[0])),
		"bad CRC on a kept gAMA":   withChunk(1, badCRC(testPNGChunk("gAMA", []byte{0, 0, 0xB1, 0x8F}))),
		"bad CRC on eXIf":          withChunk(1, badCRC(testPNGChunk("eXIf", gpsTIFF(t)))),
		"chunk past the end":       append(bytes.Clone(whole[:len(whole)-12]), 0, 0, 1, 0, 't', 'E', 'X', 't', 'a'),
		"IHDR not first":           append([]byte("\x89PNG\r\n\x1a\n"), append(testPNGChunk("gAMA", []byte{0, 0, 0xB1, 0x8F}), whole[8:]...)...),
		"no IEND":                  whole[:len(whole)-12],
		"cut in IDAT":              whole[:len(whole)-40],
		"IDATs split by text":      split.insert(i+1, testPNGChunk("tEXt", []byte("a\x00b"))).bytes(),
		"PLTE after IDAT":          withChunk(i+1, testPNGChunk("PLTE", []byte{1, 2, 3})),
		"no image data":            testPNG{base[0], base[len(base)-1]}.bytes(),
		"second IHDR":              withChunk(1, base[0]),
		"chunk type not a letter":  withChunk(1, testPNGChunk("g\x00MA", []byte{1})),
		"IEND with data":           replaced(len(base)-1, testPNGChunk("IEND", []byte("PLANTED"))),
		"bomb profile (16 MiB+1)":  withChunk(1, testPNGChunk("iCCP", append([]byte("x\x00\x00"), zlibBytes(make([]byte, maxBlock+1))...))),
		"signature only":           whole[:8],
		"IDAT length over 2^31-1":  withChunk(1, []byte{0x80, 0, 0, 0, 'I', 'D', 'A', 'T'}),
		"ICC profile cut by a CRC": withChunk(1, badCRC(testPNGChunk("iCCP", append([]byte("x\x00\x00"), zlibBytes(testICC())...)))),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) { refused(t, data) })
	}
}

// baseGIF is a two-frame looping GIF.
func baseGIF(t testing.TB) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 0, 0}}
	var frames []*image.Paletted
	for f := range 2 {
		m := image.NewPaletted(image.Rect(0, 0, 16, 16), pal)
		for i := range m.Pix {
			m.Pix[i] = uint8((i + f) % 4)
		}
		frames = append(frames, m)
	}
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{10, 20}, LoopCount: 3, Disposal: []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gifBlocks builds extension sub-blocks: 0x21, label, then each block with
// its length, then the terminator.
func gifExt(label byte, blocks ...[]byte) []byte {
	e := []byte{0x21, label}
	for _, b := range blocks {
		e = append(append(e, byte(len(b))), b...)
	}
	return append(e, 0)
}

// gifInsert puts ext before the first image descriptor (after the loop
// extension and the first graphic control).
func gifInsert(t testing.TB, g []byte, ext ...[]byte) []byte {
	// EncodeAll writes header+LSD (13), no global table, NETSCAPE (19),
	// then a graphic control (8) before the first image.
	at := 13 + 19
	if g[at] != 0x21 || g[at+1] != 0xF9 {
		t.Fatalf("unexpected GIF layout at %d: % x", at, g[at:at+2])
	}
	out := bytes.Clone(g[:at])
	for _, e := range ext {
		out = append(out, e...)
	}
	return append(out, g[at:]...)
}

// sameGIF checks that two GIFs decode to the same frames, delays and loop
// count.
func sameGIF(t *testing.T, a, b []byte) {
	t.Helper()
	ga, err := gif.DecodeAll(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	gb, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the rebuilt GIF: %v", err)
	}
	if len(ga.Image) != len(gb.Image) || ga.LoopCount != gb.LoopCount {
		t.Fatalf("%d frames, loop %d -> %d frames, loop %d", len(ga.Image), ga.LoopCount, len(gb.Image), gb.LoopCount)
	}
	for i := range ga.Image {
		if ga.Delay[i] != gb.Delay[i] || ga.Disposal[i] != gb.Disposal[i] {
			t.Errorf("frame %d: delay/disposal %d/%d -> %d/%d", i, ga.Delay[i], ga.Disposal[i], gb.Delay[i], gb.Disposal[i])
		}
		if !bytes.Equal(ga.Image[i].Pix, gb.Image[i].Pix) || ga.Image[i].Rect != gb.Image[i].Rect {
			t.Errorf("frame %d pixels changed", i)
		}
	}
}

func TestRebuildGIF(t *testing.T) {
	base := baseGIF(t)
	xmp := fixture(t, "gps.gif")
	// The XMP application extension of the fixture, raw XMP and magic
	// trailer included.
	xs := bytes.Index(xmp, []byte("\x21\xFFXMP DataXMP"))
	if xs < 0 {
		xs = bytes.Index(xmp, []byte("\x21\xFF\x0BXMP DataXMP"))
	}
	if xs < 0 {
		t.Fatal("no XMP extension in gps.gif")
	}
	xe := bytes.Index(xmp[xs:], []byte{0x01, 0x00, 0x00}) // end of the magic trailer
	xmpExt := xmp[xs : xs+xe+3]
	iccBlocks := func(p []byte) [][]byte {
		bs := [][]byte{[]byte(gifRebuildICCApp)}
		for len(p) > 0 {
			k := min(len(p), 255)
			bs = append(bs, p[:k])
			p = p[k:]
		}
		return bs
	}
	tests := map[string][]byte{
		"comment":                gifInsert(t, base, gifExt(0xFE, []byte("PLANTED +48.8584+002.2945/"))),
		"plain text":             gifInsert(t, base, gifExt(0x01, []byte("\x00\x00\x00\x00\x10\x00\x10\x00\x08\x08\x01\x00"), []byte("PLANTED"))),
		"XMP":                    gifInsert(t, base, xmpExt),
		"unknown application":    gifInsert(t, base, gifExt(0xFF, []byte("GPSDATA1.0x"), []byte("+48.8584+002.2945/"))),
		"unknown extension":      gifInsert(t, base, gifExt(0x77, []byte("PLANTED"))),
		"loop with extra block":  gifInsert(t, base, gifExt(0xFF, []byte("NETSCAPE2.0"), []byte{1, 3, 0}, []byte("\x02PLANTED"))),
		"graphic control padded": gifInsert(t, base, gifExt(0xF9, []byte{4, 10, 0, 0}, []byte("PLANTED"))),
		"ICC profile":            gifInsert(t, base, gifExt(0xFF, iccBlocks(testICC())...)),
		"data after trailer":     append(bytes.Clone(base), "PLANTED +48.8584+002.2945/"...),
		"image after trailer":    append(bytes.Clone(base), base[13:]...),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			// Go's decoder refuses some of the originals (unknown
			// extensions): compare with the GIF they were made from.
			out, _ := checkRebuilt(t, in, false)
			sameGIF(t, base, out)
			if name == "ICC profile" && !bytes.Contains(out, []byte(gifRebuildICCApp)) {
				t.Error("ICC profile dropped")
			}
		})
	}
	t.Run("clean GIF unchanged", func(t *testing.T) {
		out, _ := checkRebuilt(t, base, true)
		if !bytes.Equal(out, base) {
			t.Error("a GIF with nothing to drop changed")
		}
	})
}

func TestRebuildGIFRefuses(t *testing.T) {
	base := baseGIF(t)
	noImage := append(bytes.Clone(base[:13]), 0x3B)
	tests := map[string][]byte{
		"no trailer":           base[:len(base)-1],
		"cut in an image":      base[:len(base)-10],
		"cut in the header":    base[:10],
		"cut in a comment":     append(bytes.Clone(base[:13]), 0x21, 0xFE, 20, 'a', 'b'),
		"comment unterminated": append(bytes.Clone(base[:13]), 0x21, 0xFE, 2, 'a', 'b'),
		"unknown block":        append(bytes.Clone(base[:13]), 0x42, 0x3B),
		"no image":             noImage,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) { refused(t, data) })
	}
}

// webpChunkT is a WebP chunk, padded.
func webpChunkT(name string, p []byte) []byte {
	c := append([]byte(name), binary.LittleEndian.AppendUint32(nil, uint32(len(p)))...)
	c = append(c, p...)
	if len(p)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

// webpFile is a RIFF WEBP holding chunks, with the RIFF size set.
func webpFile(chunks ...[]byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WEBP")
	for _, c := range chunks {
		b = append(b, c...)
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// vp8x is a VP8X chunk for a canvas of w x h.
func vp8x(flags byte, w, h int) []byte {
	p := []byte{flags, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), 0, byte(h - 1), byte((h - 1) >> 8), 0}
	return webpChunkT("VP8X", p)
}

// fixtureVP8 is the 16x16 VP8 chunk of gps.webp, whole.
func fixtureVP8(t testing.TB) []byte {
	w := fixture(t, "gps.webp")
	i := bytes.Index(w, []byte("VP8 "))
	if i < 0 {
		t.Fatal("no VP8 chunk in gps.webp")
	}
	n := int(binary.LittleEndian.Uint32(w[i+4:]))
	return bytes.Clone(w[i : i+8+n+n&1])
}

// anmf is an animation frame at (0,0) of w x h holding chunks.
func anmf(w, h int, chunks ...[]byte) []byte {
	p := []byte{0, 0, 0, 0, 0, 0, byte(w - 1), 0, 0, byte(h - 1), 0, 0, 100, 0, 0, 0}
	for _, c := range chunks {
		p = append(p, c...)
	}
	return webpChunkT("ANMF", p)
}

// webpChunkNames lists the top-level chunks of a WebP file.
func webpChunkNames(b []byte) []string {
	var names []string
	for off := 12; off+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		names = append(names, string(b[off:off+4]))
		off += 8 + n + n&1
	}
	return names
}

func TestRebuildWebP(t *testing.T) {
	vp8 := fixtureVP8(t)
	alpha := make([]byte, 1+16*16) // raw alpha, no filter
	for i := range alpha[1:] {
		alpha[1+i] = uint8(i)
	}
	alph := webpChunkT("ALPH", alpha)
	exif := webpChunkT("EXIF", gpsTIFF(t))
	xmp := webpChunkT("XMP ", []byte(`<x:xmpmeta exif:GPSLatitude="48,51.5N">PLANTED</x:xmpmeta>`))
	odd := webpChunkT("GPSx", []byte("+48.8584+002.2945/x")) // odd size, padded
	iccp := webpChunkT("ICCP", testICC())
	tests := []struct {
		name      string
		in        []byte
		flags     byte // of the rebuilt VP8X; 0 for a simple file
		chunks    []string
		orient    int
		noDecode  bool
		animation bool
	}{
		{name: "simple with trailing EXIF", in: webpFile(vp8, exif, xmp), chunks: []string{"VP8 "}},
		{name: "simple with bytes past RIFF", in: append(webpFile(vp8), "PLANTED +48.8584+002.2945/"...), chunks: []string{"VP8 "}},
		{
			name:   "extended, everything",
			in:     webpFile(vp8x(0x3C, 16, 16), iccp, alph, vp8, exif, xmp, odd, webpChunkT("exif", []byte("PLANTED")), webpChunkT("xmp ", []byte("PLANTED"))),
			flags:  webpRebuildICC | webpRebuildAlpha | webpRebuildEXIF,
			chunks: []string{"VP8X", "ICCP", "ALPH", "VP8 ", "EXIF"},
			orient: 6,
		},
		{
			name:   "second EXIF",
			in:     webpFile(vp8x(0x08, 16, 16), vp8, exif, webpChunkT("EXIF", append(gpsTIFF(t), "PLANTED"...))),
			flags:  webpRebuildEXIF,
			chunks: []string{"VP8X", "VP8 ", "EXIF"},
			orient: 6,
		},
		{
			name:   "ICCP without its flag",
			in:     webpFile(vp8x(0, 16, 16), iccp, vp8),
			chunks: []string{"VP8X", "VP8 "},
		},
		{
			name:   "XMP only: flags cleared",
			in:     webpFile(vp8x(0x04, 16, 16), vp8, xmp),
			chunks: []string{"VP8X", "VP8 "},
		},
		{
			name:   "odd chunk last, its padding byte missing",
			in:     webpFile(vp8x(0, 16, 16), vp8, odd[:len(odd)-1]),
			chunks: []string{"VP8X", "VP8 "},
		},
		{
			name:   "chunks past the RIFF size",
			in:     append(webpFile(vp8x(0, 16, 16), vp8), exif...),
			chunks: []string{"VP8X", "VP8 "},
		},
		{
			name:      "animation with EXIF inside a frame",
			in:        webpFile(vp8x(0x02, 16, 16), webpChunkT("ANIM", []byte{0, 0, 0, 0, 0, 0}), anmf(16, 16, vp8, exif, odd), anmf(16, 16, alph, vp8, xmp)),
			flags:     webpRebuildAnim | webpRebuildAlpha,
			chunks:    []string{"VP8X", "ANIM", "ANMF", "ANMF"},
			noDecode:  true,
			animation: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, rb := checkRebuilt(t, tt.in, !tt.noDecode)
			if got := webpChunkNames(out); !equalStrings(got, tt.chunks) {
				t.Errorf("chunks %q, want %q", got, tt.chunks)
			}
			if int(binary.LittleEndian.Uint32(out[4:]))+8 != len(out) {
				t.Errorf("RIFF size %d for a file of %d bytes", binary.LittleEndian.Uint32(out[4:]), len(out))
			}
			if tt.chunks[0] == "VP8X" {
				if out[20] != tt.flags {
					t.Errorf("VP8X flags %#x, want %#x", out[20], tt.flags)
				}
				if !bytes.Equal(out[24:30], []byte{15, 0, 0, 15, 0, 0}) {
					t.Errorf("canvas changed: % x", out[24:30])
				}
			}
			if want := max(tt.orient, 1); rb.Info.Orientation != want {
				t.Errorf("Info.Orientation = %d, want %d", rb.Info.Orientation, want)
			}
			if tt.animation {
				// Each frame is its header and its image chunks, and says so
				// in its size.
				for off := 12; off+8 <= len(out); {
					n := int(binary.LittleEndian.Uint32(out[off+4:]))
					if string(out[off:off+4]) == "ANMF" {
						var subs []string
						for s := off + 8 + 16; s < off+8+n; {
							k := int(binary.LittleEndian.Uint32(out[s+4:]))
							subs = append(subs, string(out[s:s+4]))
							s += 8 + k + k&1
						}
						if len(subs) == 0 || subs[len(subs)-1] != "VP8 " || len(subs) > 2 {
							t.Errorf("frame holds %q", subs)
						}
					}
					off += 8 + n + n&1
				}
			}
			if path, err := exec.LookPath("webpmux"); err == nil {
				f := writeTemp(t, "out.webp", out)
				if msg, err := exec.Command(path, "-info", f).CombinedOutput(); err != nil {
					t.Errorf("webpmux -info: %v\n%s", err, msg)
				}
			}
		})
	}
}

func TestRebuildWebPRefuses(t *testing.T) {
	vp8 := fixtureVP8(t)
	anim := webpChunkT("ANIM", []byte{0, 0, 0, 0, 0, 0})
	riffTooBig := webpFile(vp8)
	binary.LittleEndian.PutUint32(riffTooBig[4:], uint32(len(riffTooBig)))
	tests := map[string][]byte{
		"RIFF size past the file":   riffTooBig,
		"chunk past the RIFF size":  webpFile(vp8x(0, 16, 16), vp8[:len(vp8)-10]),
		"VP8X without image":        webpFile(vp8x(0, 16, 16), webpChunkT("EXIF", gpsTIFF(t))),
		"canvas not the image size": webpFile(vp8x(0, 32, 16), vp8),
		"VP8X of the wrong size":    webpFile(webpChunkT("VP8X", make([]byte, 12)), vp8),
		"unknown first chunk":       webpFile(webpChunkT("GPSx", []byte("ab")), vp8),
		"frame outside the canvas":  webpFile(vp8x(2, 8, 8), anim, anmf(16, 16, vp8)),
		"frame without image":       webpFile(vp8x(2, 16, 16), anim, anmf(16, 16, webpChunkT("EXIF", []byte("ab")))),
		"frame sub-chunk past it":   webpFile(vp8x(2, 16, 16), anim, anmf(16, 16, vp8[:len(vp8)-4])),
		"animation without ANIM":    webpFile(vp8x(2, 16, 16), anmf(16, 16, vp8)),
		"header only":               webpFile(),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) { refused(t, data) })
	}
}
