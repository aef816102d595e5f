package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// The HEIF shapes below are assembled by heifFile from the parts of
// testdata/gps.heic (its 64x64 HEVC tile, its 1x1 grid, its Exif and XMP
// items) plus what a test plants: unknown items and properties, top-level
// boxes, trailing bytes, duplicated boxes.

// iso6709 is the location as QuickTime and free text write it.
const iso6709 = "+48.8584+002.2945/"

// heifParts are what the shapes are made of.
type heifParts struct {
	hvcC, ispeTile, ispeGrid, pixi []byte // property boxes
	tile, grid, exif, xmp          []byte // item data
}

// heifFixtureParts reads the parts of gps.heic (items 1 tile, 2 grid, 3
// Exif, 4 XMP) and the Exif item of taken.heic.
func heifFixtureParts(t *testing.T) (p heifParts, takenExif []byte) {
	t.Helper()
	read := func(name string) (*heifMeta, *source) {
		b := fixture(t, name)
		s := &source{r: bytes.NewReader(b), size: int64(len(b))}
		var meta heifBox
		var mdats [][2]int64
		for off := int64(0); off < s.size; {
			bx, ok, err := heifTopBox(s, off)
			if err != nil || !ok {
				t.Fatalf("%s: top-level box at %d: %v", name, off, err)
			}
			switch bx.typ {
			case "meta":
				meta = bx
				meta.body = b[bx.data:bx.end]
			case "mdat":
				mdats = append(mdats, [2]int64{bx.data, bx.end})
			}
			off = bx.end
		}
		m, err := heifReadMeta(s, meta, mdats)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m, s
	}
	load := func(m *heifMeta, s *source, id uint32) []byte {
		b, err := m.load(s, id)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	m, s := read("gps.heic")
	prop := func(typ string, n int) []byte {
		for _, b := range m.props {
			if b.typ == typ {
				if n--; n == 0 {
					return heifBoxPut(typ, b.body)
				}
			}
		}
		t.Fatalf("gps.heic has no %s property", typ)
		return nil
	}
	p = heifParts{
		hvcC: prop("hvcC", 1), ispeTile: prop("ispe", 1), ispeGrid: prop("ispe", 2), pixi: prop("pixi", 1),
		tile: load(m, s, 1), grid: load(m, s, 2), exif: load(m, s, 3), xmp: load(m, s, 4),
	}
	if !bytes.Contains(p.xmp, []byte("Paris")) || !bytes.Contains(p.exif, []byte("MM")) {
		t.Fatal("gps.heic's items are not where this test expects them")
	}
	mt, st := read("taken.heic")
	for _, it := range mt.items {
		if it.typ == "Exif" {
			takenExif = load(mt, st, it.id)
		}
	}
	return p, takenExif
}

// heifTestItem is one item of a test file.
type heifTestItem struct {
	id     uint32
	typ    string
	name   string // item name; content type follows for mime items
	mime   string
	hidden bool
	data   []byte
	inIdat bool
	props  []byte // 1-based ipco indices, 0x80 set when essential
}

// heifFile describes a test file.
type heifFile struct {
	primary   uint32
	items     []heifTestItem
	props     [][]byte
	refs      [][]byte // iref children
	extraMeta [][]byte // more boxes in meta, after the usual ones
	top       [][]byte // top-level boxes after mdat
	trailing  []byte
}

// heifTestRef builds an iref child box with 16-bit ids.
func heifTestRef(typ string, from uint32, to ...uint32) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(from))
	p = binary.BigEndian.AppendUint16(p, uint16(len(to)))
	for _, id := range to {
		p = binary.BigEndian.AppendUint16(p, uint16(id))
	}
	return heifBoxPut(typ, p)
}

// bytes writes the file: ftyp, meta, mdat, the extra top-level boxes and
// the trailing bytes.
func (f heifFile) bytes() []byte {
	ftyp := heifBoxPut("ftyp", []byte("heic\x00\x00\x00\x00mif1heicmiafXYZW"))
	metaFor := func(mdatStart int) []byte {
		var idat, iloc, infes []byte
		mdatOff := mdatStart
		iloc = []byte{0x44, 0x00}
		iloc = binary.BigEndian.AppendUint16(iloc, uint16(len(f.items)))
		for _, it := range f.items {
			iloc = binary.BigEndian.AppendUint16(iloc, uint16(it.id))
			off := mdatOff
			if it.inIdat {
				iloc = binary.BigEndian.AppendUint16(iloc, 1)
				off = len(idat)
				idat = append(idat, it.data...)
			} else {
				iloc = binary.BigEndian.AppendUint16(iloc, 0)
				mdatOff += len(it.data)
			}
			iloc = append(iloc, 0, 0, 0, 1) // data reference 0, one extent
			iloc = binary.BigEndian.AppendUint32(iloc, uint32(off))
			iloc = binary.BigEndian.AppendUint32(iloc, uint32(len(it.data)))
			var flags uint32
			if it.hidden {
				flags = 1
			}
			body := append(binary.BigEndian.AppendUint16(nil, uint16(it.id)), 0, 0)
			body = append(append(append(body, it.typ...), it.name...), 0)
			if it.typ == "mime" {
				body = append(append(body, it.mime...), 0)
			}
			infes = append(infes, heifBoxPutFull("infe", 2, flags, body)...)
		}
		var ipma []byte
		n := 0
		for _, it := range f.items {
			if len(it.props) > 0 {
				n++
				ipma = binary.BigEndian.AppendUint16(ipma, uint16(it.id))
				ipma = append(append(ipma, byte(len(it.props))), it.props...)
			}
		}
		var refs []byte
		for _, r := range f.refs {
			refs = append(refs, r...)
		}
		children := [][]byte{
			heifBoxPutFull("hdlr", 0, 0, make([]byte, 4), []byte("pict"), make([]byte, 12), []byte("Paris\x00")),
			heifBoxPutFull("pitm", 0, 0, binary.BigEndian.AppendUint16(nil, uint16(f.primary))),
			heifBoxPutFull("iloc", 1, 0, iloc),
			heifBoxPutFull("iinf", 0, 0, binary.BigEndian.AppendUint16(nil, uint16(len(f.items))), infes),
			heifBoxPutFull("iref", 0, 0, refs),
			heifBoxPut("iprp", heifBoxPut("ipco", f.props...),
				heifBoxPutFull("ipma", 0, 0, binary.BigEndian.AppendUint32(nil, uint32(n)), ipma)),
			heifBoxPut("idat", idat),
		}
		return heifBoxPutFull("meta", 0, 0, append(children, f.extraMeta...)...)
	}
	meta := metaFor(0)
	meta = metaFor(len(ftyp) + len(meta) + 8)
	var mdat []byte
	for _, it := range f.items {
		if !it.inIdat {
			mdat = append(mdat, it.data...)
		}
	}
	out := append(append(ftyp, meta...), heifBoxPut("mdat", mdat)...)
	for _, b := range f.top {
		out = append(out, b...)
	}
	return append(out, f.trailing...)
}

// heifShape is the usual test file: a 1x1 grid (item 2) of one HEVC tile
// (item 1), its Exif (3) and XMP (4) items, an unknown item (5) and a
// thumbnail (6) holding the location, an unknown property and free, uuid
// and trailing bytes holding it too.
func heifShape(p heifParts) heifFile {
	planted := []byte(iso6709 + " Paris")
	return heifFile{
		primary: 2,
		items: []heifTestItem{
			{id: 1, typ: "hvc1", hidden: true, data: p.tile, props: []byte{0x81, 2, 4}},
			{id: 2, typ: "grid", name: "Paris", data: p.grid, inIdat: true, props: []byte{3, 4, 5}},
			{id: 3, typ: "Exif", data: p.exif},
			{id: 4, typ: "mime", mime: "application/rdf+xml", data: p.xmp},
			{id: 5, typ: "zzzz", data: planted},
			{id: 6, typ: "hvc1", data: append(bytes.Clone(p.tile), planted...), props: []byte{0x81, 2}},
		},
		props: [][]byte{p.hvcC, p.ispeTile, p.ispeGrid, p.pixi, heifBoxPut("zzzz", planted)},
		refs: [][]byte{
			heifTestRef("dimg", 2, 1), heifTestRef("cdsc", 3, 2), heifTestRef("cdsc", 4, 2),
			heifTestRef("cdsc", 5, 2), heifTestRef("thmb", 6, 2),
		},
		extraMeta: [][]byte{heifBoxPut("grpl", heifBoxPut("zzzz", planted))},
		top: [][]byte{
			heifBoxPut("free", planted),
			heifBoxPut("uuid", make([]byte, 16), planted),
			heifBoxPut("moov", heifBoxPut("udta", heifBoxPut("\xa9xyz", planted))),
		},
		trailing: planted,
	}
}

// sameHEIFPixels checks that heif-convert shows out as it shows orig
// (mediacheck.SamePicture, which needs heif-convert: see testenv.Tool).
func sameHEIFPixels(t *testing.T, orig, out []byte) {
	t.Helper()
	if err := mediacheck.SamePicture(t, "image/heic", orig, out); err != nil {
		t.Fatal(err)
	}
}

// checkHEIF runs the checks every kept HEIF shape must pass and returns
// the rebuilt file.
func checkHEIF(t *testing.T, orig []byte, orientation int) ([]byte, *Rebuilt) {
	t.Helper()
	out, rb := rebuilt(t, orig, Options{})
	for _, planted := range []string{iso6709, "Paris", "zzzz", "grpl", "free", "uuid", "moov", "XYZW", "rdf"} {
		if bytes.Contains(out, []byte(planted)) {
			t.Errorf("%q left in the rebuilt file", planted)
		}
	}
	if found := findLocation(out); len(found) > 0 {
		t.Errorf("location left after the rebuild: %v", found)
	}
	path := writeTemp(t, "out.heic", out)
	if loc, ok := exiftoolLocation(t, path); ok && len(loc) > 0 {
		t.Errorf("exiftool still finds location: %v", loc)
	}
	if rb.Info.Orientation != orientation {
		t.Errorf("Info.Orientation = %d, want %d", rb.Info.Orientation, orientation)
	}
	ty, _ := Sniff(out[:min(len(out), SniffLen)])
	if ty != typeHEIC {
		t.Errorf("the rebuilt file sniffs as %v", ty)
	}
	if got := Inspect(bytes.NewReader(out), int64(len(out)), ty).Orientation; got != orientation {
		t.Errorf("Orientation(rebuilt) = %d, want %d", got, orientation)
	}
	again, _ := rebuilt(t, out, Options{})
	if !bytes.Equal(again, out) {
		t.Errorf("rebuilding the rebuilt file changed it (%d -> %d bytes); want a fixed point", len(out), len(again))
	}
	sameHEIFPixels(t, orig, out)
	return out, rb
}

func TestRebuildHEIFShapes(t *testing.T) {
	p, takenExif := heifFixtureParts(t)
	t.Run("exif xmp unknown items and boxes", func(t *testing.T) {
		orig := heifShape(p).bytes()
		if found := findLocation(orig); len(found) == 0 {
			t.Fatal("no location in the test file: the test is wrong")
		}
		checkHEIF(t, orig, 6)
	})
	t.Run("exif in idat", func(t *testing.T) {
		f := heifShape(p)
		f.items[2].data, f.items[2].inIdat = append(bytes.Clone(takenExif), iso6709...), true
		_, rb := checkHEIF(t, f.bytes(), 6)
		if want := time.Date(2026, 5, 14, 7, 30, 0, 0, time.UTC); !rb.Info.TakenTime.Equal(want) {
			t.Errorf("Info.TakenTime = %v, want %v", rb.Info.TakenTime, want)
		}
	})
	t.Run("exif describing another item", func(t *testing.T) {
		f := heifShape(p)
		f.refs[1] = heifTestRef("cdsc", 3, 6)
		_, rb := checkHEIF(t, f.bytes(), 1)
		if !rb.Info.TakenTime.IsZero() {
			t.Errorf("Info.TakenTime = %v from a thumbnail's Exif", rb.Info.TakenTime)
		}
	})
	// Duplicate metadata containers: the first counts (as libheif reads
	// it), the others are dropped, so the rebuilt file has one of each.
	for name, extra := range map[string][]byte{
		"second iloc": func() []byte {
			b := heifShape(p).bytes()
			i := bytes.Index(b, []byte("iloc"))
			return b[i-4 : i-4+int(binary.BigEndian.Uint32(b[i-4:]))]
		}(),
		"second iinf": heifBoxPutFull("iinf", 0, 0, []byte{0, 0}),
		"second pitm": heifBoxPutFull("pitm", 0, 0, []byte{0, 6}),
	} {
		t.Run(name, func(t *testing.T) {
			f := heifShape(p)
			f.extraMeta = [][]byte{extra}
			out, _ := checkHEIF(t, f.bytes(), 6)
			for _, typ := range []string{"iloc", "iinf", "pitm"} {
				if n := bytes.Count(out, []byte(typ)); n != 1 {
					t.Errorf("%d %s boxes in the rebuilt file, want one", n, typ)
				}
			}
		})
	}
	t.Run("hevc primary with transforms", func(t *testing.T) {
		f := heifShape(p)
		f.primary = 1
		f.items[0].hidden = false
		f.items[0].props = append(f.items[0].props, 6, 7, 5)
		f.items = append([]heifTestItem(nil), f.items...)
		f.items[1].hidden = true // the grid, no longer shown
		f.props = append(f.props, heifBoxPut("irot", []byte{1}), heifBoxPut("imir", []byte{1}))
		f.refs = [][]byte{heifTestRef("dimg", 2, 1), heifTestRef("cdsc", 3, 1), heifTestRef("thmb", 6, 1)}
		out, _ := checkHEIF(t, f.bytes(), 6)
		if !bytes.Contains(out, heifBoxPut("irot", []byte{1})) || !bytes.Contains(out, heifBoxPut("imir", []byte{1})) {
			t.Error("irot or imir dropped")
		}
	})
}

func TestRebuildHEIFAlphaKeptDepthDropped(t *testing.T) {
	p, _ := heifFixtureParts(t)
	f := heifShape(p)
	f.primary = 1
	f.items[0].hidden = false
	alpha := heifBoxPutFull("auxC", 0, 0, []byte("urn:mpeg:hevc:2015:auxid:1\x00Paris"))
	depth := heifBoxPutFull("auxC", 0, 0, []byte("urn:mpeg:hevc:2015:auxid:2\x00"))
	f.props = append(f.props, alpha, depth)
	f.items = append(f.items,
		heifTestItem{id: 7, typ: "hvc1", hidden: true, data: p.tile, props: []byte{0x81, 2, 6}},
		heifTestItem{id: 8, typ: "hvc1", hidden: true, data: append(bytes.Clone(p.tile), 0xAB, 0xCD), props: []byte{0x81, 2, 7}})
	f.refs = [][]byte{heifTestRef("auxl", 7, 1), heifTestRef("auxl", 8, 1)}
	out, _ := rebuilt(t, f.bytes(), Options{})
	if !bytes.Contains(out, []byte("urn:mpeg:hevc:2015:auxid:1\x00")) || !bytes.Contains(out, heifTestRef("auxl", 7, 1)) {
		t.Error("alpha plane dropped")
	}
	if bytes.Contains(out, []byte("auxid:2")) || bytes.Contains(out, []byte{0xAB, 0xCD}) || bytes.Contains(out, []byte("Paris")) {
		t.Error("depth map or auxC text kept")
	}
	if again, _ := rebuilt(t, out, Options{}); !bytes.Equal(again, out) {
		t.Error("not a fixed point")
	}
	if _, err := exec.LookPath("heif-info"); err == nil {
		path := writeTemp(t, "alpha.heic", out)
		msg, err := exec.Command("heif-info", path).CombinedOutput()
		if err != nil || !bytes.Contains(msg, []byte("alpha channel: yes")) {
			t.Errorf("heif-info: %v\n%s", err, msg)
		}
	}
}

func TestRebuildHEIFRefusesMalformed(t *testing.T) {
	p, _ := heifFixtureParts(t)
	good := heifShape(p)
	tests := map[string]func() []byte{
		"primary of unknown type": func() []byte { f := good; f.primary = 5; return f.bytes() },
		"primary not described":   func() []byte { f := good; f.primary = 9; return f.bytes() },
		"grid without tiles":      func() []byte { f := good; f.refs = f.refs[1:]; return f.bytes() },
		"file cut in mdat": func() []byte {
			f := good
			f.top, f.trailing = nil, nil
			b := f.bytes()
			return b[:len(b)-10]
		},
		"meta cut short": func() []byte {
			b := good.bytes()
			i := bytes.Index(b, []byte("meta"))
			return b[:i+40]
		},
		"no ftyp": func() []byte { return good.bytes()[24:] },
		"essential unknown property": func() []byte {
			f := good
			f.items = append([]heifTestItem(nil), f.items...)
			f.items[1].props = []byte{3, 0x85}
			return f.bytes()
		},
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			b := data()
			ty, err := Sniff(b[:min(len(b), SniffLen)])
			if err != nil {
				ty = typeHEIC // a file without ftyp is no longer HEIF to Sniff
			}
			_, err = Rebuild(bytes.NewReader(b), int64(len(b)), ty, Options{})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Rebuild = %v, want ErrMalformed", err)
			}
			t.Log(Reason(err))
		})
	}
}

func TestRebuildHEIFFixturePixels(t *testing.T) {
	for _, name := range []string{"gps.heic", "taken.heic"} {
		t.Run(name, func(t *testing.T) {
			orig := fixture(t, name)
			out, _ := rebuilt(t, orig, Options{})
			sameHEIFPixels(t, orig, out)
		})
	}
}
