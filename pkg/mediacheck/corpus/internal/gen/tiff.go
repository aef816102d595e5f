package main

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// TIFF field types.
const (
	tByte      = 1
	tASCII     = 2
	tShort     = 3
	tLong      = 4
	tRational  = 5
	tUndefined = 7
)

// tEntry is one IFD entry: either a value or pointers to sub-IFDs.
type tEntry struct {
	tag, typ uint16
	count    int
	val      []byte // already in the block's byte order
	subs     []*ifd // LONG offsets of these IFDs
}

type ifd struct {
	entries []tEntry
	next    *ifd
}

// tiffW lays out a TIFF block: each IFD is written, then its values and
// children after it.
type tiffW struct {
	bo  bord
	buf []byte
}

// tiffBlock writes a TIFF block in byte order bo (big endian unless le).
func tiffBlock(le bool, root *ifd) []byte {
	w := &tiffW{bo: binary.BigEndian, buf: []byte("MM\x00*\x00\x00\x00\x08")}
	if le {
		w.bo = binary.LittleEndian
		w.buf = []byte("II*\x00\x08\x00\x00\x00")
	}
	w.write(root)
	return w.buf
}

func (w *tiffW) write(d *ifd) uint32 {
	if len(w.buf)%2 == 1 {
		w.buf = append(w.buf, 0)
	}
	at := len(w.buf)
	w.buf = append(w.buf, make([]byte, 2+12*len(d.entries)+4)...)
	w.bo.PutUint16(w.buf[at:], uint16(len(d.entries)))
	for i, e := range d.entries {
		p := at + 2 + 12*i
		val, count := e.val, e.count
		if e.subs != nil {
			val = nil
			for _, s := range e.subs {
				val = w.bo.AppendUint32(val, w.write(s))
			}
			count = len(e.subs)
		}
		w.bo.PutUint16(w.buf[p:], e.tag)
		w.bo.PutUint16(w.buf[p+2:], e.typ)
		w.bo.PutUint32(w.buf[p+4:], uint32(count))
		if len(val) <= 4 {
			copy(w.buf[p+8:p+12], val)
			continue
		}
		if len(w.buf)%2 == 1 {
			w.buf = append(w.buf, 0)
		}
		w.bo.PutUint32(w.buf[p+8:], uint32(len(w.buf)))
		w.buf = append(w.buf, val...)
	}
	if d.next != nil {
		next := w.write(d.next) // before indexing w.buf: writing may move it
		w.bo.PutUint32(w.buf[at+2+12*len(d.entries):], next)
	}
	return uint32(at)
}

// bord is a byte order that can also append.
type bord interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// Entry constructors; values are encoded when the block's order is known,
// so they take it.
func ascii(tag uint16, s string) tEntry {
	return tEntry{tag: tag, typ: tASCII, count: len(s) + 1, val: append([]byte(s), 0)}
}

func short(bo bord, tag uint16, v uint16) tEntry {
	return tEntry{tag: tag, typ: tShort, count: 1, val: bo.AppendUint16(nil, v)}
}

func rationals(bo bord, tag uint16, v ...uint32) tEntry {
	var b []byte
	for _, x := range v {
		b = bo.AppendUint32(b, x)
	}
	return tEntry{tag: tag, typ: tRational, count: len(v) / 2, val: b}
}

func undef(tag uint16, b []byte) tEntry {
	return tEntry{tag: tag, typ: tUndefined, count: len(b), val: b}
}

func ptr(tag uint16, subs ...*ifd) tEntry { return tEntry{tag: tag, typ: tLong, subs: subs} }

// gpsIFD is the Eiffel Tower as EXIF writes it (48 51 30.24 N, 2 17 40.2 E),
// with the payload in GPSAreaInformation so the marker is in the block.
func gpsIFD(bo bord, id string) *ifd {
	return &ifd{entries: []tEntry{
		{tag: 0x0000, typ: tByte, count: 4, val: []byte{2, 3, 0, 0}},
		ascii(0x0001, "N"),
		rationals(bo, 0x0002, 48, 1, 51, 1, 3024, 100),
		ascii(0x0003, "E"),
		rationals(bo, 0x0004, 2, 1, 17, 1, 4020, 100),
		undef(0x001C, []byte("ASCII\x00\x00\x00"+payload(id))),
	}}
}

// exifGPS is a TIFF block whose IFD0 links the GPS IFD.
func exifGPS(le bool, id string) []byte {
	bo := order(le)
	return tiffBlock(le, &ifd{entries: []tEntry{ptr(0x8825, gpsIFD(bo, id))}})
}

// exifClean is a TIFF block with only an orientation.
func exifClean() []byte {
	return tiffBlock(false, &ifd{entries: []tEntry{short(binary.BigEndian, 0x0112, 1)}})
}

func order(le bool) bord {
	if le {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// xmpPacket is an XMP packet with the position, the city and the payload.
// extra goes into the rdf:Description's attributes.
func xmpPacket(id, extra string) string {
	return `<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>` +
		`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"` +
		` xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"` +
		extra + ` exif:GPSLatitude="48,51.504N" exif:GPSLongitude="2,17.67E"` +
		` photoshop:City="Paris" photoshop:Country="France">` +
		`<dc:description><rdf:Alt><rdf:li xml:lang="x-default">` + payload(id) + `</rdf:li></rdf:Alt></dc:description>` +
		`</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
}

// xmpBare is an XMP packet that only points at extended XMP.
func xmpBare(guid string) string {
	return `<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>` +
		`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description rdf:about="" xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmpNote:HasExtendedXMP="` +
		guid + `"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
}

func md5hex(b []byte) string { return strings.ToUpper(fmt.Sprintf("%x", md5.Sum(b))) }

// encodeUTF encodes s as UTF-16 (bits 16) or UTF-32 (bits 32).
func encodeUTF(s string, bits int, le bool) []byte {
	bo := order(le)
	var b []byte
	if bits == 16 {
		for _, u := range utf16.Encode([]rune(s)) {
			b = bo.AppendUint16(b, u)
		}
		return b
	}
	for _, r := range s {
		b = bo.AppendUint32(b, uint32(r))
	}
	return b
}

// iptcCity is an IPTC-IIM record 2 with the city, the country and the
// payload as the caption.
func iptcCity(id string) []byte {
	ds := func(n byte, v string) []byte { return cat([]byte{0x1c, 2, n}, be16(len(v)), []byte(v)) }
	return cat([]byte{0x1c, 2, 0, 0, 2, 0, 4}, ds(90, "Paris"), ds(101, "France"), ds(120, payload(id)))
}

// photoshopIRB wraps IPTC data in a Photoshop image resource 0x0404.
func photoshopIRB(iptc []byte) []byte {
	b := cat([]byte("8BIM"), be16(0x0404), []byte{0, 0}, be32(len(iptc)), iptc)
	if len(iptc)%2 == 1 {
		b = append(b, 0)
	}
	return b
}
