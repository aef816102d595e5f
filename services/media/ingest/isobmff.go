package ingest

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
)

// MP4, 3GP, QuickTime and HEIF are all ISO base media files: a tree of boxes
// (atoms), each a 32-bit size (1 = a 64-bit size follows, 0 = to the end of
// the parent), a four-character type, and a payload.
//
// Location lives in:
//   - moov/udta/©xyz (QuickTime: "+48.8584+002.2945/") and moov/udta/loci
//     (3GPP, what ffmpeg writes into MP4), also under trak/udta;
//   - moov/meta (QuickTime "mdta" metadata): a keys box names each entry,
//     ilst holds the values, the item's type being the 1-based key index;
//     iPhones write com.apple.quicktime.location.ISO6709 there;
//   - XMP: udta/XMP_ atoms, and uuid boxes of the XMP UUID;
//   - HEIF images: an Exif item and an XMP ("mime" application/rdf+xml) item
//     described in meta/iinf, their bytes placed by meta/iloc, either in the
//     file or inside meta/idat.
//
// Location atoms are renamed 'free' (a box every reader skips) and their
// payload zeroed; sizes are untouched, so every offset in the file, chunk
// offset tables included, stays valid.

type box struct {
	typ   [4]byte
	start int64 // first byte of the box
	hdr   int64 // first byte after size, type and any 64-bit size
	data  int64 // first byte of the payload (after a uuid box's user type)
	end   int64 // first byte after the box
	uuid  [16]byte
}

var xmpUUID = [16]byte{0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC}

// readBox reads the header of the box at off, which must end by limit.
func (j *job) readBox(off, limit int64) (box, error) {
	if err := j.step(); err != nil {
		return box{}, err
	}
	var h [16]byte
	if limit-off < 8 {
		return box{}, malformed("box header at %d cut short", off)
	}
	if err := j.readAt(h[:8], off); err != nil {
		return box{}, err
	}
	b := box{start: off, hdr: off + 8}
	copy(b.typ[:], h[4:8])
	size := int64(binary.BigEndian.Uint32(h[:4]))
	switch size {
	case 0:
		b.end = limit
	case 1:
		if limit-off < 16 {
			return box{}, malformed("64-bit box header at %d cut short", off)
		}
		if err := j.readAt(h[8:16], off+8); err != nil {
			return box{}, err
		}
		b.hdr = off + 16
		s := binary.BigEndian.Uint64(h[8:16])
		if s > uint64(limit-off) {
			b.end = -1 // flagged below
		} else {
			b.end = off + int64(s)
		}
	default:
		b.end = off + size
	}
	b.data = b.hdr
	if string(b.typ[:]) == "uuid" {
		b.data += 16
	}
	if b.end == -1 || b.end > limit {
		return b, errOverrun
	}
	if b.end < b.data {
		return box{}, malformed("box %q at %d smaller than its header", b.typ[:], off)
	}
	if b.typ == [4]byte{'u', 'u', 'i', 'd'} {
		if err := j.readAt(b.uuid[:], b.hdr); err != nil {
			return box{}, err
		}
	}
	return b, nil
}

// errOverrun marks a box claiming to extend past its parent.
var errOverrun = malformed("box runs past its parent")

func (j *job) isobmff() error {
	for off := int64(0); off < j.size; {
		if j.size-off < 8 {
			break // a few trailing bytes: no reader takes a box from them
		}
		b, err := j.readBox(off, j.size)
		if err == errOverrun {
			// A recording cut short leaves mdat claiming more than was
			// written; players cope, and nothing we clean lives in it.
			switch string(b.typ[:]) {
			case "mdat", "free", "skip", "wide":
				return nil
			}
			return malformed("box %q at %d runs past the end of the file", b.typ[:], off)
		}
		if err != nil {
			return err
		}
		switch string(b.typ[:]) {
		case "meta":
			err = j.meta(b, 1)
		case "moov":
			if j.inspect {
				err = j.movieTime(b)
			} else {
				err = j.container(b, 1)
			}
		case "uuid":
			err = j.uuidXMP(b)
		}
		if err != nil {
			return err
		}
		off = b.end
	}
	return nil
}

// movieEpoch is where ISO and QuickTime movie times count from.
var movieEpoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)

// movieTime reads the creation time of moov/mvhd (seconds since 1904 in
// UTC; 0 when the writer did not say) as the taken time.
func (j *job) movieTime(moov box) error {
	return j.children(moov.data, moov.end, func(b box) error {
		if string(b.typ[:]) != "mvhd" {
			return nil
		}
		var h [12]byte
		n := min(int64(len(h)), b.end-b.data)
		if n < 8 || j.readAt(h[:n], b.data) != nil {
			return errFound
		}
		var secs uint64
		switch h[0] {
		case 0:
			secs = uint64(binary.BigEndian.Uint32(h[4:8]))
		case 1:
			if n < 12 {
				return errFound
			}
			secs = binary.BigEndian.Uint64(h[4:12])
		}
		// Beyond year 2200 is a broken header, not a date.
		if secs > 0 && secs < uint64(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Sub(movieEpoch)/time.Second) {
			j.taken = movieEpoch.Add(time.Duration(secs) * time.Second)
		}
		return errFound
	})
}

// children calls fn for each child box of the payload range [from, to).
func (j *job) children(from, to int64, fn func(box) error) error {
	for off := from; off < to; {
		if to-off < 8 {
			// QuickTime ends user data lists with a 32-bit zero.
			return nil
		}
		b, err := j.readBox(off, to)
		if err == errOverrun {
			return malformed("box %q at %d runs past its parent", b.typ[:], off)
		}
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
		off = b.end
	}
	return nil
}

// container walks moov, trak and udta for location atoms.
func (j *job) container(parent box, depth int) error {
	if depth > maxDepth {
		return malformed("boxes nested deeper than %d", maxDepth)
	}
	return j.children(parent.data, parent.end, func(b box) error {
		switch string(b.typ[:]) {
		case "\xa9xyz", "loci":
			return j.neutralise(b)
		case "meta":
			return j.meta(b, depth+1)
		case "XMP_":
			return j.xmpRegion(region{{b.data, b.end - b.data}})
		case "uuid":
			return j.uuidXMP(b)
		case "trak", "udta":
			return j.container(b, depth+1)
		}
		return nil
	})
}

// uuidXMP cleans a uuid box holding XMP (Adobe's way of adding XMP to MP4).
func (j *job) uuidXMP(b box) error {
	if b.uuid != xmpUUID {
		return nil
	}
	return j.xmpRegion(region{{b.data, b.end - b.data}})
}

// neutralise renames a box to 'free' and zeroes its payload.
func (j *job) neutralise(b box) error {
	if j.inspect {
		return nil
	}
	if err := j.writeAt([]byte("free"), b.start+4); err != nil {
		return err
	}
	j.changed = true
	return j.zero(b.hdr, b.end-b.hdr)
}

// meta handles a meta box, which is a full box (4 bytes of version and
// flags before the children) in ISO files but a plain container in
// QuickTime. The hdlr box that comes first tells which.
func (j *job) meta(b box, depth int) error {
	if depth > maxDepth {
		return malformed("boxes nested deeper than %d", maxDepth)
	}
	first := b.data + 4
	if b.end-b.data >= 12 {
		var h [12]byte
		if err := j.readAt(h[:], b.data); err != nil {
			return err
		}
		if string(h[4:8]) == "hdlr" {
			first = b.data
		}
	}
	if first > b.end {
		return malformed("meta box at %d too short", b.start)
	}
	var keys, ilst, iinf, iloc, idat *box
	err := j.children(first, b.end, func(c box) error {
		switch string(c.typ[:]) {
		case "keys":
			keys = &c
		case "ilst":
			ilst = &c
		case "iinf":
			iinf = &c
		case "iloc":
			iloc = &c
		case "idat":
			idat = &c
		case "XMP_":
			return j.xmpRegion(region{{c.data, c.end - c.data}})
		case "uuid":
			return j.uuidXMP(c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ilst != nil && !j.inspect {
		if err := j.ilst(*ilst, keys); err != nil {
			return err
		}
	}
	if iinf != nil && iloc != nil {
		return j.heifItems(*iinf, *iloc, idat)
	}
	return nil
}

// ilst neutralises metadata items holding location: QuickTime mdta items
// whose key names a location (or GPS), and iTunes-style ©xyz/loci items.
func (j *job) ilst(ilst box, keys *box) error {
	loc := map[uint32]bool{}
	if keys != nil {
		kb, err := j.load(region{{keys.data, keys.end - keys.data}})
		if err != nil {
			return err
		}
		if len(kb) >= 8 {
			count := binary.BigEndian.Uint32(kb[4:8])
			p := kb[8:]
			for i := uint32(1); i <= count && len(p) >= 8; i++ {
				n := binary.BigEndian.Uint32(p)
				if n < 8 || uint64(n) > uint64(len(p)) {
					break // the rest cannot be indexed by any reader either
				}
				name := strings.ToLower(string(p[8:n]))
				if strings.Contains(name, "location") || strings.Contains(name, "gps") {
					loc[i] = true
				}
				p = p[n:]
			}
		}
	}
	return j.children(ilst.data, ilst.end, func(c box) error {
		if loc[binary.BigEndian.Uint32(c.typ[:])] {
			return j.neutralise(c)
		}
		switch string(c.typ[:]) {
		case "\xa9xyz", "loci":
			return j.neutralise(c)
		}
		return nil
	})
}

// heifItem is what is to be done with one HEIF item.
type heifItem int

const (
	itemExif heifItem = iota + 1
	itemXMP
	itemEncoded // XML content stored compressed: cannot be edited in place
)

// heifItems finds the Exif and XMP items in iinf and cleans their bytes as
// placed by iloc.
func (j *job) heifItems(iinf, iloc box, idat *box) error {
	items, err := j.iinf(iinf)
	if err != nil || len(items) == 0 {
		return err
	}
	lb, err := j.load(region{{iloc.data, iloc.end - iloc.data}})
	if err != nil {
		return err
	}
	locs, err := parseILOC(lb, items)
	if err != nil {
		return err
	}
	for _, l := range locs {
		rg, err := j.itemRegion(l, idat)
		if err != nil {
			return err
		}
		switch items[l.id] {
		case itemExif:
			err = j.exifRegion(rg, heifExifSkip)
		case itemXMP:
			err = j.xmpRegion(rg)
		case itemEncoded:
			if !j.inspect {
				for _, e := range rg {
					if err = j.zero(e.off, e.n); err != nil {
						break
					}
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// iinf lists the items of interest by id.
func (j *job) iinf(iinf box) (map[uint32]heifItem, error) {
	var vf [4]byte
	if iinf.end-iinf.data < 4 {
		return nil, malformed("iinf box too short")
	}
	if err := j.readAt(vf[:], iinf.data); err != nil {
		return nil, err
	}
	first := iinf.data + 6 // version and flags, 16-bit entry count
	if vf[0] != 0 {
		first = iinf.data + 8 // 32-bit entry count
	}
	if first > iinf.end {
		return nil, malformed("iinf box too short")
	}
	items := map[uint32]heifItem{}
	err := j.children(first, iinf.end, func(c box) error {
		if string(c.typ[:]) != "infe" {
			return nil
		}
		b, err := j.load(region{{c.data, c.end - c.data}})
		if err != nil {
			return err
		}
		if id, kind, ok := parseINFE(b); ok && kind != 0 {
			items[id] = kind
		}
		return nil
	})
	return items, err
}

// parseINFE reads an item info entry and classifies the item.
func parseINFE(b []byte) (uint32, heifItem, bool) {
	if len(b) < 4 {
		return 0, 0, false
	}
	version, p := b[0], b[4:]
	cstr := func() (string, bool) {
		k := bytes.IndexByte(p, 0)
		if k < 0 {
			// The last string may lack its terminator at the end of the box.
			s := string(p)
			p = nil
			return s, true
		}
		s := string(p[:k])
		p = p[k+1:]
		return s, true
	}
	var id uint32
	var typ string
	switch {
	case version >= 3:
		if len(p) < 10 {
			return 0, 0, false
		}
		id, typ, p = binary.BigEndian.Uint32(p), string(p[6:10]), p[10:]
	case version == 2:
		if len(p) < 8 {
			return 0, 0, false
		}
		id, typ, p = uint32(binary.BigEndian.Uint16(p)), string(p[4:8]), p[8:]
	default:
		// Versions 0 and 1 have no item type: every item is described by a
		// content type, as 'mime' items are in later versions.
		if len(p) < 4 {
			return 0, 0, false
		}
		id, typ, p = uint32(binary.BigEndian.Uint16(p)), "mime", p[4:]
		cstr() // item name
		ct, _ := cstr()
		enc, _ := cstr()
		return id, mimeItem(ct, enc), true
	}
	switch typ {
	case "Exif":
		return id, itemExif, true
	case "mime":
		cstr() // item name
		ct, _ := cstr()
		enc, _ := cstr()
		return id, mimeItem(ct, enc), true
	}
	return id, 0, true
}

func mimeItem(contentType, encoding string) heifItem {
	if !strings.Contains(strings.ToLower(contentType), "xml") {
		return 0
	}
	if encoding != "" {
		return itemEncoded
	}
	return itemXMP
}

// itemLoc is one item's placement from iloc.
type itemLoc struct {
	id      uint32
	method  int
	dataRef uint16
	base    uint64
	extents [][2]uint64 // offset, length
}

// parseILOC reads the item location box, keeping the items in want.
func parseILOC(b []byte, want map[uint32]heifItem) ([]itemLoc, error) {
	bad := malformed("iloc box malformed")
	if len(b) < 6 {
		return nil, bad
	}
	version := b[0]
	offSize, lenSize := int(b[4]>>4), int(b[4]&15)
	baseSize, idxSize := int(b[5]>>4), int(b[5]&15)
	if version == 0 {
		idxSize = 0
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			return nil, bad
		}
	}
	p := b[6:]
	take := func(n int) (uint64, bool) {
		if len(p) < n {
			return 0, false
		}
		var v uint64
		for _, c := range p[:n] {
			v = v<<8 | uint64(c)
		}
		p = p[n:]
		return v, true
	}
	idWidth := 2
	if version >= 2 {
		idWidth = 4
	}
	count, ok := take(idWidth)
	if !ok {
		return nil, bad
	}
	var out []itemLoc
	work := 0 // extents and items read, bounded: with zero-size fields they cost no bytes
	for range count {
		var l itemLoc
		id, ok := take(idWidth)
		if !ok {
			return nil, bad
		}
		l.id = uint32(id)
		if version == 1 || version == 2 {
			m, ok := take(2)
			if !ok {
				return nil, bad
			}
			l.method = int(m & 15)
		}
		dr, ok1 := take(2)
		base, ok2 := take(baseSize)
		n, ok3 := take(2)
		if !ok1 || !ok2 || !ok3 {
			return nil, bad
		}
		l.dataRef, l.base = uint16(dr), base
		for range n {
			if work++; work > maxItems {
				return nil, malformed("iloc box lists too many extents")
			}
			if _, ok := take(idxSize); !ok {
				return nil, bad
			}
			o, ok1 := take(offSize)
			ln, ok2 := take(lenSize)
			if !ok1 || !ok2 {
				return nil, bad
			}
			if want[l.id] != 0 {
				l.extents = append(l.extents, [2]uint64{o, ln})
			}
		}
		if want[l.id] != 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// itemRegion turns an item's placement into file extents.
func (j *job) itemRegion(l itemLoc, idat *box) (region, error) {
	if l.dataRef != 0 {
		return nil, nil // stored in another file: nothing here to clean
	}
	var from, to int64 // the space offsets are relative to
	switch l.method {
	case 0:
		from, to = 0, j.size
	case 1:
		if idat == nil {
			return nil, malformed("HEIF item %d in a missing idat", l.id)
		}
		from, to = idat.data, idat.end
	default:
		return nil, malformed("HEIF metadata item %d uses construction method %d", l.id, l.method)
	}
	space := uint64(to - from)
	var rg region
	for _, e := range l.extents {
		off, n := l.base+e[0], e[1]
		if off < l.base || off > space {
			return nil, malformed("HEIF item %d extent outside the file", l.id)
		}
		if n == 0 { // to the end of the space
			n = space - off
		}
		if n > space-off {
			return nil, malformed("HEIF item %d extent outside the file", l.id)
		}
		rg = append(rg, extent{from + int64(off), int64(n)})
	}
	return rg, nil
}

// heifExifSkip tells exifRegion that the block starts with HEIF's 4-byte
// offset to the TIFF header.
const heifExifSkip = -1
