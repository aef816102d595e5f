package main

import (
	"encoding/binary"
	"log"
)

// jseg is one JPEG marker segment as raw bytes; an SOS segment carries the
// entropy-coded data that follows it.
type jseg struct {
	marker byte
	raw    []byte
}

// jpegSplit cuts a clean JPEG into its segments (SOI first, EOI last).
func jpegSplit(b []byte) []jseg {
	must(len(b) > 4 && b[0] == 0xff && b[1] == 0xd8, "base is not a JPEG")
	segs := []jseg{{0xd8, b[:2]}}
	p := 2
	for p < len(b) {
		must(b[p] == 0xff, "JPEG marker expected")
		m := b[p+1]
		if m == 0xd9 {
			segs = append(segs, jseg{m, b[p : p+2]})
			return segs
		}
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		end := p + 2 + n
		if m == 0xda {
			for end+1 < len(b) && !(b[end] == 0xff && b[end+1] != 0 && (b[end+1] < 0xd0 || b[end+1] > 0xd7)) {
				end++
			}
		}
		segs = append(segs, jseg{m, b[p:end]})
		p = end
	}
	log.Fatal("gen: JPEG without EOI")
	return nil
}

func jpegJoin(segs []jseg) []byte {
	var b []byte
	for _, s := range segs {
		b = append(b, s.raw...)
	}
	return b
}

// seg is a marker segment with payload p.
func seg(m byte, p []byte) []byte { return cat([]byte{0xff, m}, be16(len(p)+2), p) }

// jpegInsert puts raw segments after APP0 (or SOI) of the base JPEG.
func jpegInsert(base []byte, raw ...[]byte) []byte {
	segs := jpegSplit(base)
	at := 1
	if segs[1].marker == 0xe0 {
		at = 2
	}
	out := jpegJoin(segs[:at])
	for _, r := range raw {
		out = append(out, r...)
	}
	return append(out, jpegJoin(segs[at:])...)
}

const (
	xmpNS    = "http://ns.adobe.com/xap/1.0/\x00"
	xmpExtNS = "http://ns.adobe.com/xmp/extension/\x00"
)

func jpegShapes() []shape {
	j := func(id, prose string, exif bool, build func(in *inputs, id string) []byte) shape {
		return shape{id: id, ext: "jpg", ctype: "image/jpeg", format: "jpeg", prose: prose,
			marker: true, exiftool: exif, build: build}
	}
	base := func(in *inputs) []byte { return in.get("base.jpg") }
	app1 := func(prefix string, le bool) func(in *inputs, id string) []byte {
		return func(in *inputs, id string) []byte {
			return jpegInsert(base(in), seg(0xe1, cat([]byte(prefix), exifGPS(le, id))))
		}
	}
	xmpIn := func(bits int, le bool) func(in *inputs, id string) []byte {
		return func(in *inputs, id string) []byte {
			pkt := encodeUTF(xmpPacket(id, ""), bits, le)
			return jpegInsert(base(in), seg(0xe1, cat([]byte(xmpNS), pkt)))
		}
	}
	return []shape{
		{id: "jpeg-ordinary", ext: "jpg", ctype: "image/jpeg", format: "jpeg", tool: "jpeg-ordinary.jpg", exiftool: true,
			prose: "exiftool-written EXIF GPS, XMP exif:GPS and photoshop:City, IPTC City and Country"},
		j("jpeg-exif-le", "APP1 EXIF, little-endian TIFF, GPS IFD from IFD0", true, app1("Exif\x00\x00", true)),
		j("jpeg-exif-ff", `APP1 EXIF under the header "Exif\0\xff"`, true, app1("Exif\x00\xff", false)),
		j("jpeg-exif-short", `APP1 EXIF under the header "Exif\0" with the TIFF header right after (one NUL)`, false, app1("Exif\x00", false)),
		j("jpeg-exif-lower", `APP1 EXIF under the lower-case header "exif\0\0"`, true, app1("exif\x00\x00", false)),
		j("jpeg-exif-garbage", `APP1 with two bytes before "Exif\0\0" (TIFF header at offset 8)`, true, app1("\x00\x00Exif\x00\x00", false)),
		j("jpeg-exif-gap", `APP1 "Exif\0\0" then two padding bytes before the TIFF header`, false, app1("Exif\x00\x00\x00\x00", false)),
		j("jpeg-xmp-utf16be", "APP1 XMP packet in UTF-16 big-endian with BOM", true, xmpIn(16, false)),
		j("jpeg-xmp-utf16le", "APP1 XMP packet in UTF-16 little-endian with BOM", true, xmpIn(16, true)),
		j("jpeg-xmp-utf32be", "APP1 XMP packet in UTF-32 big-endian with BOM", true, xmpIn(32, false)),
		j("jpeg-xmp-utf32le", "APP1 XMP packet in UTF-32 little-endian with BOM", true, xmpIn(32, true)),
		j("jpeg-xmp-extended", "extended XMP: the main packet names a GUID, the position is in two extension APP1 segments", true, jpegExtendedXMP),
		j("jpeg-ifd1", "GPS IFD linked from IFD1 (the thumbnail IFD) instead of IFD0", true, jpegIFD1),
		j("jpeg-ifd-chain", "GPS IFD linked from IFD4, reached through the IFD0 -> IFD1 -> ... -> IFD4 next-IFD chain", true, jpegIFDChain),
		j("jpeg-subifds", "GPS IFD linked from the last of six SubIFDs (tag 0x014A) of IFD0", true, jpegSubIFDs),
		j("jpeg-interop", "GPS IFD linked from the Interop IFD under the Exif IFD", true, jpegInterop),
		j("jpeg-exif-second", "two APP1 EXIF segments: the first clean, the second with GPS", true, jpegSecondEXIF),
		j("jpeg-exif-multiseg", "one EXIF block split over two APP1 segments (the second continues the TIFF and holds the GPS IFD)", true, jpegMultiSeg),
		j("jpeg-jumbf", "APP11 JUMBF superbox labelled c2pa with a JSON assertion holding the position", true, jpegJUMBF),
		j("jpeg-com", "COM segment with an ISO 6709 string", true, func(in *inputs, id string) []byte {
			return jpegInsert(base(in), seg(0xfe, []byte(payload(id))))
		}),
		j("jpeg-app13", "APP13 Photoshop IRB 0x0404 with IPTC City, Country and Caption", true, func(in *inputs, id string) []byte {
			return jpegInsert(base(in), seg(0xed, cat([]byte("Photoshop 3.0\x00"), photoshopIRB(iptcCity(id)))))
		}),
		j("jpeg-app9", "unknown APP9 segment holding the position as text", false, func(in *inputs, id string) []byte {
			return jpegInsert(base(in), seg(0xe9, []byte(payload(id))))
		}),
		j("jpeg-mpf", "APP2 MPF index naming a second image after EOI; that image has its own APP1 EXIF GPS", true, jpegMPF),
		j("jpeg-trailer", "vendor trailer after EOI holding the position as text", false, func(in *inputs, id string) []byte {
			return cat(base(in), []byte("KBTRAILER\x00"+payload(id)))
		}),
		j("jpeg-trailer-exif", "a whole APP1 EXIF segment with GPS after EOI", false, func(in *inputs, id string) []byte {
			return cat(base(in), seg(0xe1, cat([]byte("Exif\x00\x00"), exifGPS(false, id))))
		}),
		j("jpeg-fill", "0xFF fill bytes before the APP1 EXIF GPS marker", true, func(in *inputs, id string) []byte {
			return jpegInsert(base(in), cat([]byte{0xff, 0xff, 0xff}, seg(0xe1, cat([]byte("Exif\x00\x00"), exifGPS(false, id)))))
		}),
		j("jpeg-progressive", "progressive JPEG with an APP1 EXIF GPS segment and a COM between its first and second scans", true, jpegProgressive),
		{id: "jpeg-overrun", ext: "jpg", ctype: "image/jpeg", format: "jpeg", marker: true, refused: true,
			prose: "APP1 whose length runs past the end of the file",
			build: func(in *inputs, id string) []byte {
				s := seg(0xe1, cat([]byte("Exif\x00\x00"), exifGPS(false, id)))
				binary.BigEndian.PutUint16(s[2:], 0xfff0)
				return jpegInsert(base(in), s)
			}},
	}
}

func jpegExtendedXMP(in *inputs, id string) []byte {
	ext := []byte(xmpPacket(id, ""))
	guid := md5hex(ext)
	main := seg(0xe1, cat([]byte(xmpNS), []byte(xmpBare(guid))))
	half := len(ext) / 2
	part := func(off, end int) []byte {
		return seg(0xe1, cat([]byte(xmpExtNS), []byte(guid), be32(len(ext)), be32(off), ext[off:end]))
	}
	return jpegInsert(in.get("base.jpg"), main, part(0, half), part(half, len(ext)))
}

func exifSeg(t []byte) []byte { return seg(0xe1, cat([]byte("Exif\x00\x00"), t)) }

func jpegIFDChain(in *inputs, id string) []byte {
	bo := binary.BigEndian
	last := &ifd{entries: []tEntry{short(bo, 0x0112, 1), ptr(0x8825, gpsIFD(bo, id))}}
	d := last
	for range 4 {
		d = &ifd{entries: []tEntry{short(bo, 0x0112, 1)}, next: d}
	}
	return jpegInsert(in.get("base.jpg"), exifSeg(tiffBlock(false, d)))
}

func jpegIFD1(in *inputs, id string) []byte {
	bo := binary.BigEndian
	ifd1 := &ifd{entries: []tEntry{short(bo, 0x0103, 6), ptr(0x8825, gpsIFD(bo, id))}}
	root := &ifd{entries: []tEntry{short(bo, 0x0112, 1)}, next: ifd1}
	return jpegInsert(in.get("base.jpg"), exifSeg(tiffBlock(false, root)))
}

func jpegSubIFDs(in *inputs, id string) []byte {
	bo := binary.BigEndian
	var subs []*ifd
	for range 5 {
		subs = append(subs, &ifd{entries: []tEntry{short(bo, 0x00fe, 1)}})
	}
	subs = append(subs, &ifd{entries: []tEntry{short(bo, 0x00fe, 1), ptr(0x8825, gpsIFD(bo, id))}})
	root := &ifd{entries: []tEntry{ptr(0x014a, subs...)}}
	return jpegInsert(in.get("base.jpg"), exifSeg(tiffBlock(false, root)))
}

func jpegInterop(in *inputs, id string) []byte {
	bo := binary.BigEndian
	interop := &ifd{entries: []tEntry{ascii(0x0001, "R98"), ptr(0x8825, gpsIFD(bo, id))}}
	exif := &ifd{entries: []tEntry{ptr(0xa005, interop)}}
	root := &ifd{entries: []tEntry{ptr(0x8769, exif)}}
	return jpegInsert(in.get("base.jpg"), exifSeg(tiffBlock(false, root)))
}

func jpegSecondEXIF(in *inputs, id string) []byte {
	return jpegInsert(in.get("base.jpg"), exifSeg(exifClean()), exifSeg(exifGPS(false, id)))
}

// jpegMultiSeg cuts the TIFF block after IFD0, so the second segment (which
// does not start with a TIFF header) holds the GPS IFD.
func jpegMultiSeg(in *inputs, id string) []byte {
	t := exifGPS(false, id)
	cut := 8 + 2 + 12 + 4
	return jpegInsert(in.get("base.jpg"), exifSeg(t[:cut]), exifSeg(t[cut:]))
}

// jbox is an ISO BMFF-style box (JUMBF uses the same framing).
func jbox(typ string, parts ...[]byte) []byte {
	p := cat(parts...)
	return cat(be32(len(p)+8), []byte(typ), p)
}

func jpegJUMBF(in *inputs, id string) []byte {
	c2pa := []byte{0x63, 0x32, 0x70, 0x61, 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}
	json := []byte{0x6a, 0x73, 0x6f, 0x6e, 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}
	assertion := jbox("jumb",
		jbox("jumd", json, []byte{0x03}, []byte("stds.exif\x00")),
		jbox("json", []byte(`{"@context":{"exif":"http://ns.adobe.com/exif/1.0/"},`+
			`"exif:GPSLatitude":"48,51.504N","exif:GPSLongitude":"2,17.67E",`+
			`"location":"`+payload(id)+`"}`)))
	store := jbox("jumb", jbox("jumd", c2pa, []byte{0x03}, []byte("c2pa\x00")), assertion)
	// JPEG XT framing: CI "JP", box instance 1, packet sequence 1.
	app := cat([]byte("JP"), be16(1), be32(1), store)
	return jpegInsert(in.get("base.jpg"), seg(0xeb, app))
}

// jpegMPF appends a second JPEG (with EXIF GPS) after EOI and indexes it
// from an APP2 MPF segment, as cameras do for multi-picture files.
func jpegMPF(in *inputs, id string) []byte {
	second := jpegInsert(in.get("base.jpg"), exifSeg(exifGPS(false, id)))
	mpf := func(firstLen, secondOff int) []byte {
		bo := binary.BigEndian
		var entries []byte
		entries = cat(entries, be32(0x20030000), be32(firstLen), be32(0), be16(0), be16(0))
		entries = cat(entries, be32(0x00020002), be32(len(second)), be32(secondOff), be16(0), be16(0))
		t := tiffBlock(false, &ifd{entries: []tEntry{
			undef(0xb000, []byte("0100")),
			{tag: 0xb001, typ: tLong, count: 1, val: bo.AppendUint32(nil, 2)},
			undef(0xb002, entries),
		}})
		return seg(0xe2, cat([]byte("MPF\x00"), t))
	}
	// The MPF offsets count from its TIFF header; sizes do not change
	// between passes.
	first := jpegInsert(in.get("base.jpg"), mpf(0, 0))
	segs := jpegSplit(in.get("base.jpg"))
	tiffAt := len(segs[0].raw) + len(segs[1].raw) + 4 + 4
	first = jpegInsert(in.get("base.jpg"), mpf(len(first), len(first)-tiffAt))
	return cat(first, second)
}

func jpegProgressive(in *inputs, id string) []byte {
	segs := jpegSplit(in.get("base-prog.jpg"))
	var out []byte
	scans := 0
	for _, s := range segs {
		if s.marker == 0xda {
			scans++
			if scans == 2 {
				out = append(out, exifSeg(exifGPS(false, id))...)
				out = append(out, seg(0xfe, []byte(payload(id)))...)
			}
		}
		out = append(out, s.raw...)
	}
	must(scans >= 2, "base-prog.jpg has one scan")
	return out
}
