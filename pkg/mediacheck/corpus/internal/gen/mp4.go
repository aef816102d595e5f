package main

import (
	"encoding/binary"
	"math"
)

// mp4 is a movie being edited: its top-level boxes, with sample data for
// added tracks appended to the mdat (which the bases put before moov, so no
// existing chunk offset moves).
type mp4 struct {
	top     []*bbox
	moov    *bbox
	mdatAt  int // file offset of the mdat payload
	trailer []byte
}

func mp4Parse(b []byte) *mp4 {
	m := &mp4{top: bmffParse(b)}
	m.moov = top(m.top, "moov")
	at := 0
	for _, t := range m.top {
		if t.typ == "mdat" {
			m.mdatAt = at + 8
			break
		}
		must(t.typ != "moov", "base movie has moov before mdat")
		at += len(t.bytes())
	}
	return m
}

// addSamples appends samples to the mdat and returns their file offset.
func (m *mp4) addSamples(data []byte) int {
	md := top(m.top, "mdat")
	off := m.mdatAt + len(md.data)
	md.data = cat(md.data, data)
	return off
}

func (m *mp4) bytes() []byte { return cat(boxesBytes(m.top), m.trailer) }

// udtaOf returns b's udta, adding one when there is none.
func udtaOf(b *bbox) *bbox {
	if u := b.child("udta"); u != nil {
		return u
	}
	u := container("udta")
	b.kids = append(b.kids, u)
	return u
}

// qtString is a QuickTime international text atom's payload (©xyz, ©nam).
func qtString(s string) []byte { return cat(be16(len(s)), be16(0x15c7), []byte(s)) }

// loci is a 3GPP location box with the payload as its name.
func loci(id string) []byte {
	fixed := func(v float64) []byte { return be32(int(int32(math.Round(v * 65536)))) }
	return cat([]byte{0, 0, 0, 0}, be16(0x55c4), []byte(payload(id)+"\x00"), []byte{0},
		fixed(2.2945), fixed(48.8584), fixed(35), []byte("earth\x00"), []byte("\x00"))
}

// metaTrack builds a timed metadata track (handler 'meta') whose single
// sample description is entry and whose samples are one chunk at off.
func metaTrack(trackID int, entry []byte, off int, sizes ...int) *bbox {
	matrix := cat(be32(0x10000), be32(0), be32(0), be32(0), be32(0x10000), be32(0), be32(0), be32(0), be32(0x40000000))
	tkhd := leaf("tkhd", []byte{0, 0, 0, 1}, be32(0), be32(0), be32(trackID), be32(0), be32(200),
		make([]byte, 8), be16(0), be16(0), be16(0), be16(0), matrix, be32(0), be32(0))
	mdhd := leaf("mdhd", []byte{0, 0, 0, 0}, be32(0), be32(0), be32(1000), be32(200), be16(0x55c4), be16(0))
	hdlr := leaf("hdlr", []byte{0, 0, 0, 0}, be32(0), []byte("meta"), make([]byte, 12), []byte("KBMetaHandler\x00"))
	dinf := container("dinf", leaf("dref", []byte{0, 0, 0, 0}, be32(1), be32(12), []byte("url "), []byte{0, 0, 0, 1}))
	stsd := leaf("stsd", []byte{0, 0, 0, 0}, be32(1), entry)
	stts := leaf("stts", []byte{0, 0, 0, 0}, be32(1), be32(len(sizes)), be32(200/len(sizes)))
	stsc := leaf("stsc", []byte{0, 0, 0, 0}, be32(1), be32(1), be32(len(sizes)), be32(1))
	stszb := cat([]byte{0, 0, 0, 0}, be32(0), be32(len(sizes)))
	for _, n := range sizes {
		stszb = cat(stszb, be32(n))
	}
	stco := leaf("stco", []byte{0, 0, 0, 0}, be32(1), be32(off))
	stbl := container("stbl", stsd, stts, stsc, leaf("stsz", stszb), stco)
	minf := container("minf", leaf("nmhd", []byte{0, 0, 0, 0}), dinf, stbl)
	return container("trak", tkhd, container("mdia", mdhd, hdlr, minf))
}

// sampleEntry is a sample description with the reserved bytes and data
// reference index, then extra.
func sampleEntry(format string, extra ...[]byte) []byte {
	body := cat(make([]byte, 6), be16(1), cat(extra...))
	return cat(be32(len(body)+8), []byte(format), body)
}

// addTrack adds a metadata track with the given sample entry and samples.
func (m *mp4) addTrack(entry []byte, samples ...[]byte) {
	var sizes []int
	for _, s := range samples {
		sizes = append(sizes, len(s))
	}
	off := m.addSamples(cat(samples...))
	mvhd := m.moov.child("mvhd")
	binary.BigEndian.PutUint32(mvhd.data[96:], 3)
	m.moov.kids = append(m.moov.kids, metaTrack(2, entry, off, sizes...))
}

// gpmf is one GoPro KLV: key, type, structure size, repeat, padded data.
func gpmf(key string, typ byte, size int, data []byte) []byte {
	repeat := len(data) / size
	b := cat([]byte(key), []byte{typ, byte(size)}, be16(repeat), data)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func gpmdSample(id string) []byte {
	var scal, gps5 []byte
	for _, v := range []int{10000000, 10000000, 1000, 1000, 100} {
		scal = cat(scal, be32(v))
	}
	for _, v := range []int{488584000, 22945000, 35000, 0, 0} {
		gps5 = cat(gps5, be32(v))
	}
	strm := cat(gpmf("STNM", 'c', 1, []byte(payload(id))), gpmf("SCAL", 'l', 4, scal), gpmf("GPS5", 'l', 20, gps5))
	devc := cat(gpmf("DVID", 'L', 4, be32(1)), gpmf("STRM", 0, 1, strm))
	return gpmf("DEVC", 0, 1, devc)
}

func cammSample() []byte {
	f := func(v float64) []byte { return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)) }
	return cat(le16(0), le16(5), f(48.8584), f(2.2945), f(35))
}

func mp4Shapes() []shape {
	ms := func(id, prose string, exif bool, build func(m *mp4, id string)) shape {
		return shape{id: id, ext: "mp4", ctype: "video/mp4", format: "mp4", prose: prose, marker: true, exiftool: exif,
			build: func(in *inputs, id string) []byte {
				m := mp4Parse(in.get("base.mp4"))
				build(m, id)
				return m.bytes()
			}}
	}
	xyzFor := func(id string) *bbox { return leaf("\xa9xyz", qtString(iso6709+" "+marker(id))) }
	tool := func(id, ext, ctype, prose string) shape {
		return shape{id: id, ext: ext, ctype: ctype, format: "mp4", tool: id + "." + ext, exiftool: true, prose: prose}
	}
	return []shape{
		tool("mp4-loci", "mp4", "video/mp4", "ffmpeg-written 3GPP loci in moov/udta; moov after mdat"),
		tool("mp4-loci-moov-first", "mp4", "video/mp4", "ffmpeg-written 3GPP loci in moov/udta; moov before mdat (faststart)"),
		tool("mp4-keys", "mp4", "video/mp4", "ffmpeg-written moov/meta keys+ilst com.apple.quicktime.location.ISO6709"),
		tool("mp4-xmp-uuid", "mp4", "video/mp4", "exiftool-written XMP uuid box (BE7ACFCB...) with exif:GPS and photoshop:City"),
		tool("mov-xyz", "mov", "video/quicktime", "ffmpeg-written moov/udta/\u00a9xyz ISO 6709 in a QuickTime movie"),
		tool("mov-keys", "mov", "video/quicktime", "ffmpeg-written moov/meta keys+ilst com.apple.quicktime.location.ISO6709 in a QuickTime movie"),
		tool("mov-xmp", "mov", "video/quicktime", "exiftool-written moov/udta/XMP_ atom with exif:GPS and photoshop:City"),
		tool("3gp-loci", "3gp", "video/3gpp", "ffmpeg-written 3GPP loci in a 3GP file"),
		ms("mp4-xyz-moov", "\u00a9xyz ISO 6709 in moov/udta of an MP4", true,
			func(m *mp4, id string) { u := udtaOf(m.moov); u.kids = append(u.kids, xyzFor(id)) }),
		ms("mp4-xyz-trak", "\u00a9xyz ISO 6709 in trak/udta (bare string, as exiftool expects it there)", true,
			func(m *mp4, id string) {
				u := udtaOf(m.moov.child("trak"))
				u.kids = append(u.kids, leaf("\xa9xyz", []byte(iso6709+" "+marker(id))))
			}),
		ms("mp4-udta-mdia", "udta with \u00a9xyz under trak/mdia", false,
			func(m *mp4, id string) {
				t := m.moov.path("trak", "mdia")
				u := udtaOf(t)
				u.kids = append(u.kids, xyzFor(id))
			}),
		ms("mp4-udta-minf", "udta with \u00a9xyz under trak/mdia/minf", false,
			func(m *mp4, id string) {
				t := m.moov.path("trak", "mdia", "minf")
				u := udtaOf(t)
				u.kids = append(u.kids, xyzFor(id))
			}),
		ms("mp4-loci-hand", "3GPP loci in moov/udta whose name is the payload", true,
			func(m *mp4, id string) { u := udtaOf(m.moov); u.kids = append(u.kids, leaf("loci", loci(id))) }),
		ms("mp4-loc-unknown", "unknown atom \u00a9loc in moov/udta holding ISO 6709 text", true,
			func(m *mp4, id string) {
				u := udtaOf(m.moov)
				u.kids = append(u.kids, leaf("\xa9loc", qtString(payload(id))))
			}),
		ms("mp4-loca", "unknown atom LOCA in moov/udta holding ISO 6709 text", false,
			func(m *mp4, id string) {
				u := udtaOf(m.moov)
				u.kids = append(u.kids, leaf("LOCA", []byte(payload(id))))
			}),
		ms("mp4-xmp-udta", "XMP_ atom in moov/udta of an MP4 (the QuickTime place, in an MP4)", true,
			func(m *mp4, id string) {
				u := udtaOf(m.moov)
				u.kids = append(u.kids, leaf("XMP_", []byte(xmpPacket(id, ""))))
			}),
		ms("mp4-gpmd", "GoPro-style timed metadata track: hdlr meta, sample entry gpmd, a GPMF sample (DEVC/STRM/GPS5) in mdat", true,
			func(m *mp4, id string) { m.addTrack(sampleEntry("gpmd", be32(0)), gpmdSample(id)) }),
		ms("mp4-camm", "camm timed metadata track: a type 5 (position) sample, then the payload as a second sample", true,
			func(m *mp4, id string) { m.addTrack(sampleEntry("camm"), cammSample(), []byte(payload(id))) }),
		ms("mp4-mebx", "Apple mebx timed metadata track: key com.apple.quicktime.location.ISO6709, a sample holding ISO 6709", true,
			func(m *mp4, id string) {
				key := leaf("\x00\x00\x00\x01",
					leaf("keyd", []byte("mdtacom.apple.quicktime.location.ISO6709")).bytes(),
					leaf("dtyp", be32(0), be32(1)).bytes())
				entry := sampleEntry("mebx", container("keys", key).bytes())
				v := iso6709 + " " + marker(id)
				sample := cat(be32(8+len(v)), be32(1), []byte(v))
				m.addTrack(entry, sample)
			}),
		ms("mp4-trailer", "the position as text after the last box", false,
			func(m *mp4, id string) { m.trailer = []byte(payload(id)) }),
		ms("mp4-free", "top-level free box holding the position as text", false,
			func(m *mp4, id string) { m.top = append(m.top, leaf("free", []byte(payload(id)))) }),
		{id: "mp4-overrun", ext: "mp4", ctype: "video/mp4", format: "mp4", marker: true, refused: true,
			prose: "moov/udta (holding \u00a9xyz) whose size runs past its moov parent and the end of the file",
			build: func(in *inputs, id string) []byte {
				m := mp4Parse(in.get("base.mp4"))
				u := udtaOf(m.moov)
				u.kids = append(u.kids, xyzFor(id))
				must(m.moov.kids[len(m.moov.kids)-1] == u && m.top[len(m.top)-1] == m.moov, "udta is not last in the base")
				b := m.bytes()
				ub := u.bytes()
				p := len(b) - len(ub)
				binary.BigEndian.PutUint32(b[p:], uint32(len(ub)+16))
				return b
			}},
	}
}
