package mediacheck

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// Hand-built files for the structure tests: each builder writes the
// smallest clean file of its format, and the tests add one forbidden shape
// at a time.

// --- EXIF ---

// tiffEntrySpec is one IFD entry to write; value is its bytes (inline when
// at most 4).
type tiffEntrySpec struct {
	tag, typ uint16
	count    uint32
	value    []byte
}

// tiffIFD is one IFD to write, with the entries that point at other IFDs
// filled in by tiffBlock.
type tiffIFD struct {
	entries []tiffEntrySpec
	next    bool // write a next-IFD link to the following IFD in the list
}

// tiffBlock writes a big-endian TIFF block: IFDs one after another, then
// the out-of-line values. The value of a pointer entry (0x8769, 0x8825) is
// one byte: the index in ifds of the IFD it points at.
func tiffBlock(ifds ...tiffIFD) []byte {
	be := binary.BigEndian
	// IFD offsets first.
	offs := make([]uint32, len(ifds))
	at := uint32(8)
	for i, d := range ifds {
		offs[i] = at
		at += uint32(2 + 12*len(d.entries) + 4)
	}
	out := make([]byte, at)
	copy(out, "MM\x00*")
	be.PutUint32(out[4:], offs[0])
	for i, d := range ifds {
		p := offs[i]
		be.PutUint16(out[p:], uint16(len(d.entries)))
		for j, e := range d.entries {
			q := p + 2 + 12*uint32(j)
			be.PutUint16(out[q:], e.tag)
			be.PutUint16(out[q+2:], e.typ)
			be.PutUint32(out[q+4:], e.count)
			switch {
			case e.tag == 0x8769 || e.tag == 0x8825:
				be.PutUint32(out[q+8:], offs[e.value[0]])
			case len(e.value) <= 4:
				copy(out[q+8:], e.value)
			default:
				if len(out)%2 == 1 {
					out = append(out, 0)
				}
				be.PutUint32(out[q+8:], uint32(len(out)))
				out = append(out, e.value...)
			}
		}
		if d.next && i+1 < len(ifds) {
			be.PutUint32(out[p+2+12*uint32(len(d.entries)):], offs[i+1])
		}
	}
	return out
}

var (
	entryOrientation6 = tiffEntrySpec{0x0112, 3, 1, []byte{0, 6}}
	entryTaken        = tiffEntrySpec{0x9003, 2, 20, []byte("2026:05:14 09:30:00\x00")}
	entryOffset       = tiffEntrySpec{0x9011, 2, 7, []byte("+02:00\x00")}
	entryGPSLat       = tiffEntrySpec{0x0002, 5, 3, []byte{0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0, 30, 0, 0, 0, 1}}
)

// cleanEXIF is an allowed EXIF block: orientation and capture time.
func cleanEXIF() []byte {
	return tiffBlock(
		tiffIFD{entries: []tiffEntrySpec{entryOrientation6, {0x8769, 4, 1, []byte{1}}}},
		tiffIFD{entries: []tiffEntrySpec{entryTaken, entryOffset}},
	)
}

// gpsEXIF is an EXIF block with a GPS IFD.
func gpsEXIF() []byte {
	return tiffBlock(
		tiffIFD{entries: []tiffEntrySpec{entryOrientation6, {0x8825, 4, 1, []byte{1}}}},
		tiffIFD{entries: []tiffEntrySpec{{0x0001, 2, 2, []byte("N\x00")}, entryGPSLat}},
	)
}

// --- JPEG ---

func jpegSeg(m byte, p []byte) []byte {
	return append([]byte{0xFF, m, byte((len(p) + 2) >> 8), byte(len(p) + 2)}, p...)
}

// jpegFrame is plain.jpg's coded picture: everything from its first DQT
// to EOI included.
func jpegFrame(t testing.TB) []byte {
	d := fixture(t, "plain.jpg")
	i := bytes.Index(d, []byte{0xFF, 0xDB})
	if i < 0 {
		t.Fatal("plain.jpg has no DQT")
	}
	return d[i:]
}

// jpegFile is SOI, the given segments, then plain.jpg's frame and EOI.
func jpegFile(t testing.TB, segs ...[]byte) []byte {
	out := []byte{0xFF, 0xD8}
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpegFrame(t)...)
}

var jfif = jpegSeg(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))

// --- PNG ---

func pngChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

func pngFile(chunks ...[]byte) []byte {
	return append([]byte("\x89PNG\r\n\x1a\n"), bytes.Join(chunks, nil)...)
}

// pngIHDR is an 8-bit greyscale header.
func pngIHDR(w, h uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, w)
	b = binary.BigEndian.AppendUint32(b, h)
	return append(b, 8, 0, 0, 0, 0)
}

// pngIDAT1x1 is the image data of one grey pixel.
func pngIDAT1x1() []byte { return pngIDATOf(0x80) }

// pngIDATOf is the image data of one pixel of grey level v.
func pngIDATOf(v byte) []byte {
	var b bytes.Buffer
	z := zlib.NewWriter(&b)
	z.Write([]byte{0, v})
	z.Close()
	return b.Bytes()
}

// cleanPNG is a 1x1 grey PNG with the given ancillary chunks before IDAT.
func cleanPNG(ancillary ...[]byte) []byte {
	chunks := [][]byte{pngChunk("IHDR", pngIHDR(1, 1))}
	chunks = append(chunks, ancillary...)
	chunks = append(chunks, pngChunk("IDAT", pngIDAT1x1()), pngChunk("IEND", nil))
	return pngFile(chunks...)
}

// --- WebP ---

func riffChunk(fourcc string, data []byte) []byte {
	out := append([]byte(fourcc), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out
}

func webpFile(chunks ...[]byte) []byte {
	body := append([]byte("WEBP"), bytes.Join(chunks, nil)...)
	return append(riffChunk("RIFF", body)[:8], body...)
}

// webpVP8 is the VP8 chunk of the gps.webp fixture: a real 16x16 picture.
func webpVP8(t testing.TB) []byte {
	d := fixture(t, "gps.webp")
	i := bytes.Index(d, []byte("VP8 "))
	if i < 0 {
		t.Fatal("gps.webp has no VP8 chunk")
	}
	n := int(binary.LittleEndian.Uint32(d[i+4:]))
	return riffChunk("VP8 ", d[i+8:i+8+n])
}

// vp8x is a VP8X chunk with the given flags for a 16x16 canvas.
func vp8x(flags byte) []byte {
	return riffChunk("VP8X", []byte{flags, 0, 0, 0, 15, 0, 0, 15, 0, 0})
}

// --- GIF ---

// gifFile is a 1x1 GIF89a with a two-colour table and the given blocks
// before its image.
func gifFile(blocks ...[]byte) []byte {
	out := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00")
	out = append(out, 0, 0, 0, 255, 255, 255)
	for _, b := range blocks {
		out = append(out, b...)
	}
	out = append(out, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0) // image descriptor
	out = append(out, 2, 2, 0x4C, 0x01, 0)             // LZW data
	return append(out, 0x3B)
}

// --- ISO BMFF ---

func bmffBox(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(out, typ...), body...)
}

// fullBox is a box with version and flags.
func fullBox(typ string, version byte, flags uint32, payload ...[]byte) []byte {
	vf := binary.BigEndian.AppendUint32(nil, uint32(version)<<24|flags)
	return bmffBox(typ, append([][]byte{vf}, payload...)...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// hdlrBox is a handler box with an empty name.
func hdlrBox(handler string) []byte {
	return fullBox("hdlr", 0, 0, u32(0), []byte(handler), make([]byte, 12), []byte{0})
}

// avc1Entry is a visual sample entry with an avcC child.
func avc1Entry(typ string, children ...[]byte) []byte {
	head := make([]byte, 78)
	binary.BigEndian.PutUint16(head[6:], 1)   // data reference index
	binary.BigEndian.PutUint16(head[24:], 16) // width
	binary.BigEndian.PutUint16(head[26:], 16) // height
	binary.BigEndian.PutUint16(head[74:], 24) // depth
	return bmffBox(typ, append([][]byte{head}, children...)...)
}

// mp4Parts lets tests change one part of the minimal film.
type mp4Parts struct {
	moovExtra, trakExtra, topExtra [][]byte
	handler                        string
	entry                          []byte
}

// mp4File is a minimal film: one video track, one sample of 4 bytes.
func mp4File(p mp4Parts) []byte {
	if p.handler == "" {
		p.handler = "vide"
	}
	if p.entry == nil {
		p.entry = avc1Entry("avc1", bmffBox("avcC", []byte{1, 0x42, 0, 10, 0xFF, 0xE0, 0}))
	}
	ftyp := bmffBox("ftyp", []byte("isom"), u32(0x200), []byte("isomavc1"))
	build := func(chunkOff uint32) []byte {
		stbl := bmffBox("stbl",
			fullBox("stsd", 0, 0, u32(1), p.entry),
			fullBox("stts", 0, 0, u32(1), u32(1), u32(512)),
			fullBox("stsc", 0, 0, u32(1), u32(1), u32(1), u32(1)),
			fullBox("stsz", 0, 0, u32(4), u32(1)),
			fullBox("stco", 0, 0, u32(1), u32(chunkOff)))
		minf := bmffBox("minf", fullBox("vmhd", 0, 1, make([]byte, 8)),
			bmffBox("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1))), stbl)
		mdia := bmffBox("mdia", fullBox("mdhd", 0, 0, make([]byte, 20)), hdlrBox(p.handler), minf)
		trak := bmffBox("trak", append([][]byte{fullBox("tkhd", 0, 3, make([]byte, 80)), mdia}, p.trakExtra...)...)
		moov := bmffBox("moov", append([][]byte{fullBox("mvhd", 0, 0, make([]byte, 96)), trak}, p.moovExtra...)...)
		out := append(append([]byte(nil), ftyp...), moov...)
		for _, x := range p.topExtra {
			out = append(out, x...)
		}
		return append(out, bmffBox("mdat", []byte{0, 0, 0, 0})...)
	}
	first := build(0)
	return build(uint32(len(first) - 4))
}

// heifParts lets tests change one part of the minimal picture.
type heifParts struct {
	items     [][]byte // extra infe boxes
	metaExtra [][]byte
	exif      []byte // an Exif item's TIFF block, if any
	props     [][]byte
	slack     int // bytes of mdat no item points at
}

// heifFile is a minimal HEIC: one hvc1 item of 4 bytes in mdat, with hvcC
// and ispe, and optionally an Exif item.
func heifFile(p heifParts) []byte {
	ftyp := bmffBox("ftyp", []byte("heic"), u32(0), []byte("mif1heic"))
	infe := func(id uint16, typ string) []byte {
		return fullBox("infe", 2, 0, u16(id), u16(0), []byte(typ), []byte{0})
	}
	payload := []byte{1, 2, 3, 4}
	var exifData []byte
	if p.exif != nil {
		exifData = append(append(u32(6), "Exif\x00\x00"...), p.exif...)
	}
	build := func(mdatStart uint32) []byte {
		items := [][]byte{u16(uint16(1 + len(p.items) + boolInt(p.exif != nil))), infe(1, "hvc1")}
		locs := [][]byte{u16(1), u16(0), u16(1), u32(mdatStart), u32(4)}
		n := uint16(1)
		if p.exif != nil {
			items = append(items, infe(2, "Exif"))
			locs = append(locs, u16(2), u16(0), u16(1), u32(mdatStart+4), u32(uint32(len(exifData))))
			n++
		}
		items = append(items, p.items...)
		iloc := fullBox("iloc", 0, 0, append([][]byte{{0x44, 0x00}, u16(n)}, locs...)...)
		props := append([][]byte{bmffBox("hvcC", make([]byte, 23)), fullBox("ispe", 0, 0, u32(16), u32(16))}, p.props...)
		ipma := fullBox("ipma", 0, 0, u32(1), u16(1), []byte{2, 0x81, 0x02})
		meta := fullBox("meta", 0, 0, append([][]byte{
			hdlrBox("pict"), fullBox("pitm", 0, 0, u16(1)), fullBox("iinf", 0, 0, items...), iloc,
			bmffBox("iprp", bmffBox("ipco", props...), ipma)}, p.metaExtra...)...)
		mdat := bmffBox("mdat", payload, exifData, make([]byte, p.slack))
		return append(append(append([]byte(nil), ftyp...), meta...), mdat...)
	}
	first := build(0)
	mdatStart := uint32(len(first) - (8 + 4 + len(exifData) + p.slack) + 8)
	return build(mdatStart)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// --- WebM ---

// ebml writes an element with a one-to-four byte ID and an 8-byte size.
func ebml(id uint32, payload ...[]byte) []byte {
	var out []byte
	switch {
	case id > 0xFFFFFF:
		out = append(out, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	case id > 0xFFFF:
		out = append(out, byte(id>>16), byte(id>>8), byte(id))
	case id > 0xFF:
		out = append(out, byte(id>>8), byte(id))
	default:
		out = append(out, byte(id))
	}
	body := bytes.Join(payload, nil)
	size := binary.BigEndian.AppendUint64(nil, uint64(len(body)))
	size[0] = 0x01 // 8-byte size marker
	return append(append(out, size...), body...)
}

// webmParts lets tests change one part of the minimal film.
type webmParts struct {
	header, info, track, segment, cluster [][]byte
	after                                 []byte
}

// webmFile is a minimal WebM: one VP8 track, one cluster with one block.
func webmFile(p webmParts) []byte {
	header := ebml(0x1A45DFA3, append([][]byte{
		ebml(0x4286, []byte{1}), ebml(0x42F7, []byte{1}), ebml(0x42F2, []byte{4}), ebml(0x42F3, []byte{8}),
		ebml(0x4282, []byte("webm")), ebml(0x4287, []byte{2}), ebml(0x4285, []byte{2})}, p.header...)...)
	info := ebml(0x1549A966, append([][]byte{ebml(0x2AD7B1, []byte{0x0F, 0x42, 0x40}), ebml(0x4489, []byte{0x43, 0x48, 0, 0})}, p.info...)...)
	track := ebml(0xAE, append([][]byte{ebml(0xD7, []byte{1}), ebml(0x73C5, []byte{1}), ebml(0x83, []byte{1}),
		ebml(0x86, []byte("V_VP8")), ebml(0xE0, ebml(0xB0, []byte{16}), ebml(0xBA, []byte{16}))}, p.track...)...)
	cluster := ebml(0x1F43B675, append([][]byte{ebml(0xE7, []byte{0}), ebml(0xA3, []byte{0x81, 0, 0, 0x80, 1, 2, 3})}, p.cluster...)...)
	segment := ebml(0x18538067, append([][]byte{info, ebml(0x1654AE6B, track), cluster}, p.segment...)...)
	return append(append(header, segment...), p.after...)
}
