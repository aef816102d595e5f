package main

import (
	"encoding/binary"
	"log"
)

// bbox is an ISO BMFF box: a leaf with data, or a container with a fixed
// prefix (full-box fields, counts) and children.
type bbox struct {
	typ  string
	pre  []byte
	kids []*bbox
	data []byte
	cont bool
}

// bmffPrefix says how many bytes precede a container's children, or -1 for
// a leaf.
func bmffPrefix(typ string, payload []byte) int {
	switch typ {
	case "moov", "trak", "mdia", "minf", "stbl", "dinf", "udta", "edts", "iprp", "ipco":
		return 0
	case "meta":
		// QuickTime's meta has no version and flags; ISO's has.
		if len(payload) >= 8 && string(payload[4:8]) == "hdlr" {
			return 0
		}
		return 4
	case "iref":
		return 4
	case "iinf":
		if payload[0] == 0 {
			return 6
		}
		return 8
	}
	return -1
}

func bmffParse(b []byte) []*bbox {
	var out []*bbox
	for p := 0; p+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		must(n >= 8 && p+n <= len(b), "bad box size in base")
		bx := &bbox{typ: string(b[p+4 : p+8])}
		payload := b[p+8 : p+n]
		if k := bmffPrefix(bx.typ, payload); k >= 0 {
			bx.cont, bx.pre, bx.kids = true, payload[:k], bmffParse(payload[k:])
		} else {
			bx.data = payload
		}
		out = append(out, bx)
		p += n
	}
	return out
}

func (b *bbox) bytes() []byte {
	body := b.data
	if b.cont {
		body = b.pre
		if b.typ == "iinf" { // keep the entry count right
			body = append([]byte(nil), b.pre...)
			if b.pre[0] == 0 {
				binary.BigEndian.PutUint16(body[4:], uint16(len(b.kids)))
			} else {
				binary.BigEndian.PutUint32(body[4:], uint32(len(b.kids)))
			}
		}
		for _, k := range b.kids {
			body = cat(body, k.bytes())
		}
	}
	return cat(be32(len(body)+8), []byte(b.typ), body)
}

func boxesBytes(bs []*bbox) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b.bytes()...)
	}
	return out
}

func (b *bbox) child(typ string) *bbox {
	for _, k := range b.kids {
		if k.typ == typ {
			return k
		}
	}
	return nil
}

// path follows child types from b.
func (b *bbox) path(types ...string) *bbox {
	for _, t := range types {
		if b = b.child(t); b == nil {
			log.Fatalf("gen: no %v box in base", types)
		}
	}
	return b
}

func leaf(typ string, parts ...[]byte) *bbox { return &bbox{typ: typ, data: cat(parts...)} }
func container(typ string, kids ...*bbox) *bbox {
	return &bbox{typ: typ, cont: true, kids: kids}
}

func top(bs []*bbox, typ string) *bbox {
	for _, b := range bs {
		if b.typ == typ {
			return b
		}
	}
	log.Fatalf("gen: no top-level %s in base", typ)
	return nil
}

// ilocExt is one extent; for construction method 0 off is relative to the
// start of the mdat payload, for method 1 to the idat payload.
type ilocExt struct{ off, n int }

type ilocItem struct {
	id, cm int
	ext    []ilocExt
}

// ilocParse reads an iloc box (any version) of a file whose only mdat
// payload starts at mdatAt.
func ilocParse(d []byte, mdatAt int) []ilocItem {
	v := d[0]
	offSize, lenSize, baseSize, idxSize := int(d[4]>>4), int(d[4]&15), int(d[5]>>4), int(d[5]&15)
	if v == 0 {
		idxSize = 0
	}
	p := 6
	num := func(n int) int {
		x := 0
		for range n {
			x = x<<8 | int(d[p])
			p++
		}
		return x
	}
	count := num(2)
	if v == 2 {
		count = num(4)
	}
	var items []ilocItem
	for range count {
		var it ilocItem
		if v == 2 {
			it.id = num(4)
		} else {
			it.id = num(2)
		}
		if v >= 1 {
			it.cm = num(2) & 15
		}
		num(2) // data reference index
		base := num(baseSize)
		for range num(2) {
			num(idxSize)
			e := ilocExt{off: base + num(offSize), n: num(lenSize)}
			if it.cm == 0 {
				e.off -= mdatAt
			}
			it.ext = append(it.ext, e)
		}
		items = append(items, it)
	}
	return items
}

// ilocBytes writes a version 1 iloc with 4-byte offsets and lengths.
func ilocBytes(items []ilocItem, mdatAt int) []byte {
	b := cat([]byte{1, 0, 0, 0, 0x44, 0x00}, be16(len(items)))
	for _, it := range items {
		b = cat(b, be16(it.id), be16(it.cm), be16(0), be16(len(it.ext)))
		for _, e := range it.ext {
			off := e.off
			if it.cm == 0 {
				off += mdatAt
			}
			b = cat(b, be32(off), be32(e.n))
		}
	}
	return b
}

// heif is a HEIF file being edited: its top-level boxes (the mdat payload
// and the iloc are rewritten by bytes) and its items.
type heif struct {
	top     []*bbox
	meta    *bbox
	items   []ilocItem
	mdat    []byte
	trailer []byte
	// iloc2, when set, is written as a second iloc box after the first.
	iloc2 []ilocItem
}

func heifParse(b []byte) *heif {
	h := &heif{top: bmffParse(b)}
	h.meta = top(h.top, "meta")
	mdatAt := 0
	for _, t := range h.top {
		if t.typ == "mdat" {
			h.mdat = t.data
			break
		}
		mdatAt += len(t.bytes())
	}
	h.items = ilocParse(h.meta.child("iloc").data, mdatAt+8)
	return h
}

func (h *heif) primary() int {
	return int(binary.BigEndian.Uint16(h.meta.child("pitm").data[4:]))
}

func (h *heif) nextID() int {
	id := 0
	for _, it := range h.items {
		id = max(id, it.id)
	}
	return id + 1
}

// addItem adds an item of type typ (with a content type for "mime") whose
// data goes to the mdat, or to the idat when inIdat; it describes the
// primary image (cdsc) when describes is set.
func (h *heif) addItem(typ, mime string, data []byte, inIdat, describes bool) int {
	id := h.nextID()
	infe := cat([]byte{2, 0, 0, 0}, be16(id), be16(0), []byte(typ), []byte{0})
	if mime != "" {
		infe = cat(infe, []byte(mime), []byte{0})
	}
	h.meta.child("iinf").kids = append(h.meta.child("iinf").kids, leaf("infe", infe))
	it := ilocItem{id: id}
	if inIdat {
		idat := h.meta.child("idat")
		if idat == nil {
			idat = leaf("idat")
			h.meta.kids = append(h.meta.kids, idat)
		}
		it.cm = 1
		it.ext = []ilocExt{{len(idat.data), len(data)}}
		idat.data = cat(idat.data, data)
	} else {
		it.ext = []ilocExt{{len(h.mdat), len(data)}}
		h.mdat = cat(h.mdat, data)
	}
	h.items = append(h.items, it)
	if describes {
		ref := leaf("cdsc", be16(id), be16(1), be16(h.primary()))
		if iref := h.meta.child("iref"); iref != nil {
			iref.kids = append(iref.kids, ref)
		} else {
			h.meta.kids = append(h.meta.kids, &bbox{typ: "iref", cont: true, pre: []byte{0, 0, 0, 0}, kids: []*bbox{ref}})
		}
	}
	return id
}

// bytes lays the file out, placing the item offsets where the mdat lands.
func (h *heif) bytes() []byte {
	write := func(mdatAt int) []byte {
		var kids []*bbox
		for _, k := range h.meta.kids {
			if k.typ == "iloc" {
				kids = append(kids, leaf("iloc", ilocBytes(h.items, mdatAt)))
				if h.iloc2 != nil {
					kids = append(kids, leaf("iloc", ilocBytes(h.iloc2, mdatAt)))
				}
				continue
			}
			kids = append(kids, k)
		}
		var out []byte
		for _, t := range h.top {
			switch t.typ {
			case "meta":
				out = append(out, (&bbox{typ: "meta", cont: true, pre: t.pre, kids: kids}).bytes()...)
			case "mdat":
				out = append(out, leaf("mdat", h.mdat).bytes()...)
			default:
				out = append(out, t.bytes()...)
			}
		}
		return append(out, h.trailer...)
	}
	// The iloc's size does not depend on the offsets: lay out once to find
	// where the mdat payload lands, then again with the offsets.
	first := write(0)
	p := 0
	for p+8 <= len(first) && string(first[p+4:p+8]) != "mdat" {
		p += int(binary.BigEndian.Uint32(first[p:]))
	}
	return write(p + 8)
}

// heicExif is an Exif item's payload: the offset to the TIFF header, then
// the block.
func heicExif(prefix string, tiff []byte) []byte {
	return cat(be32(len(prefix)), []byte(prefix), tiff)
}

func heicShapes() []shape {
	hs := func(id, prose string, exif bool, build func(h *heif, id string)) shape {
		return shape{id: id, ext: "heic", ctype: "image/heic", format: "heic", prose: prose, marker: true, exiftool: exif,
			build: func(in *inputs, id string) []byte {
				h := heifParse(in.get("base.heic"))
				build(h, id)
				return h.bytes()
			}}
	}
	exifItem := func(h *heif, id string) { h.addItem("Exif", "", heicExif("", exifGPS(false, id)), false, true) }
	mif1 := hs("heic-mif1", "plain HEIF: ftyp major brand mif1, compatible mif1 only, with an Exif item holding GPS", true,
		func(h *heif, id string) {
			top(h.top, "ftyp").data = cat([]byte("mif1"), be32(0), []byte("mif1"))
			exifItem(h, id)
		})
	mif1.ctype, mif1.ext = "image/heif", "heif"
	return []shape{
		{id: "heic-ordinary", ext: "heic", ctype: "image/heic", format: "heic", tool: "heic-ordinary.heic", exiftool: true,
			prose: "exiftool-written Exif item with GPS and XMP item with exif:GPS and photoshop:City"},
		hs("heic-exif", "Exif item (cdsc to the primary image) with GPS, data in mdat", true, exifItem),
		hs("heic-exif-offset", `Exif item whose TIFF header follows "Exif\0\0" (header offset 6), as Apple writes it`, true,
			func(h *heif, id string) {
				h.addItem("Exif", "", heicExif("Exif\x00\x00", exifGPS(false, id)), false, true)
			}),
		hs("heic-xmp", "mime item application/rdf+xml holding XMP with the position", true,
			func(h *heif, id string) {
				h.addItem("mime", "application/rdf+xml", []byte(xmpPacket(id, "")), false, true)
			}),
		hs("heic-exif-idat", "Exif item with GPS stored in the meta box's idat (construction method 1)", false,
			func(h *heif, id string) { h.addItem("Exif", "", heicExif("", exifGPS(false, id)), true, true) }),
		hs("heic-unknown-item", `item of unknown type "kblc" holding the position as text`, false,
			func(h *heif, id string) { h.addItem("kblc", "", []byte(payload(id)), false, true) }),
		hs("heic-free", "top-level free box between meta and mdat holding the position as text", false,
			func(h *heif, id string) {
				h.top = append(h.top[:2], append([]*bbox{leaf("free", []byte(payload(id)))}, h.top[2:]...)...)
			}),
		hs("heic-uuid", "uuid box inside meta holding the position as text", false,
			func(h *heif, id string) {
				uuid := []byte("KBLOC-uuid-box!!")
				h.meta.kids = append(h.meta.kids, leaf("uuid", uuid, []byte(payload(id))))
			}),
		hs("heic-trailer", "the position as text after the last box", false,
			func(h *heif, id string) { h.trailer = []byte(payload(id)) }),
		mif1,
		{id: "heic-two-iloc", ext: "heic", ctype: "image/heic", format: "heic", marker: true, exiftool: true,
			prose: "two iloc boxes that agree on the image but not on the Exif item: the first puts it on a clean block, " +
				"the second on one with GPS (libheif 1.15 reads the first, exiftool 12.57 the second)",
			build: func(in *inputs, id string) []byte {
				h := heifParse(in.get("base.heic"))
				item := h.addItem("Exif", "", heicExif("", exifClean()), false, true)
				gps := heicExif("", exifGPS(false, id))
				at := len(h.mdat)
				h.mdat = cat(h.mdat, gps)
				for _, it := range h.items {
					if it.id == item {
						it.ext = []ilocExt{{at, len(gps)}}
					}
					h.iloc2 = append(h.iloc2, it)
				}
				return h.bytes()
			}},
		{id: "heic-overrun", ext: "heic", ctype: "image/heic", format: "heic", marker: true, refused: true,
			prose: "Exif item's infe box whose size runs past its iinf parent",
			build: func(in *inputs, id string) []byte {
				h := heifParse(in.get("base.heic"))
				exifItem(h, id)
				iinf := h.meta.child("iinf")
				last := iinf.kids[len(iinf.kids)-1]
				b := h.bytes()
				// Grow the last infe's size by 8: it now ends inside the
				// box after iinf.
				body := last.bytes()
				p := indexOf(b, body)
				binary.BigEndian.PutUint32(b[p:], uint32(len(body)+8))
				return b
			}},
	}
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	log.Fatal("gen: box not found in layout")
	return -1
}
