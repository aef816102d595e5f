package mediacheck

import (
	"fmt"
	"sort"
)

// A HEIF/HEIC picture may hold only: ftyp, meta and mdat at the top level;
// in meta (once each for hdlr, pitm, iinf, iloc): hdlr (handler pict, empty
// name), pitm, iinf, iloc, iref, iprp (ipco, ipma), idat, dinf. Items are
// only of the types hvc1, grid, iden, iovl, jpeg and Exif (with an allowed
// EXIF block), have empty names, and lie in this file; properties are only
// hvcC, jpgC, ispe, colr, pixi, irot, imir, clap, pasp, auxC, rloc, lsel.
// Every item extent lies inside an mdat or the idat, and no byte of an mdat
// or the idat is outside every extent: the rebuild writes only kept items'
// bytes.

const (
	heifItemTypes  = "hvc1 grid iden iovl jpeg Exif"
	heifProperties = "hvcC jpgC ispe colr pixi irot imir clap pasp auxC rloc lsel"
	heifRefTypes   = "dimg thmb auxl cdsc base"
)

// heifItem is what iinf and iloc say of one item.
type heifItem struct {
	typ     string
	located bool
	data    []byte // the Exif item's bytes, gathered from its extents
}

// heifExtent is a byte range an item points at.
type heifExtent struct {
	idat     bool // in idat rather than the file
	off, len uint64
}

// heifMeta checks the meta box of a HEIF file. strictMdat says every mdat
// byte must belong to an item (not so in an image sequence, whose tracks
// also keep samples in mdat).
func (c *checker) heifMeta(d []byte, meta box, f *bmffFile, strictMdat bool) {
	all := "hdlr pitm iinf iloc iref iprp idat dinf"
	bs := c.children(d, meta, meta.start+4, all, all)
	count := map[string]int{}
	byType := map[string]box{}
	for _, b := range bs {
		count[b.typ]++
		if _, ok := byType[b.typ]; !ok {
			byType[b.typ] = b
		}
	}
	for _, name := range []string{"hdlr", "pitm", "iinf", "iloc"} {
		if count[name] != 1 {
			c.addf("HEIF meta holds %d %q boxes, want one", count[name], name)
		}
	}
	if b, ok := byType["hdlr"]; ok {
		if h := c.hdlr(d, b); h != "pict" {
			c.addf("HEIF meta handler is %q, want pict", h)
		}
	}
	if b, ok := byType["dinf"]; ok {
		c.dinf(d, b)
	}
	items := c.heifIinf(d, byType["iinf"])
	var idat *box
	if b, ok := byType["idat"]; ok {
		idat = &b
	}
	extents := c.heifIloc(d, byType["iloc"], items, idat, f.mdats)
	if b, ok := byType["pitm"]; ok {
		p := d[b.start:b.end]
		var id uint32
		switch {
		case len(p) == 6 && p[0] == 0:
			id = uint32(be16(p[4:]))
		case len(p) == 8 && p[0] == 1:
			id = be32(p[4:])
		default:
			c.addf("HEIF %s is malformed", b)
		}
		if _, ok := items[id]; !ok && len(p) >= 6 {
			c.addf("HEIF primary item %d has no item info", id)
		}
	}
	for id, it := range items {
		if !it.located && it.typ != "grid" && it.typ != "iovl" && it.typ != "iden" {
			c.addf("HEIF item %d (%q) has no location", id, it.typ)
		}
		if it.typ == "Exif" && it.data != nil {
			where := fmt.Sprintf("HEIF Exif item %d", id)
			if len(it.data) < 4 || uint64(be32(it.data))+4 > uint64(len(it.data)) {
				c.addf("%s has no TIFF header offset", where)
			} else {
				c.exif(it.data[4+be32(it.data):], where)
			}
		}
	}
	if b, ok := byType["iref"]; ok {
		c.heifIref(d, b, items)
	}
	if b, ok := byType["iprp"]; ok {
		c.heifIprp(d, b, items)
	}
	// Coverage: the bytes of every mdat (when strict) and of the idat must
	// all belong to some item.
	var areas []box
	if strictMdat {
		areas = append(areas, f.mdats...)
	}
	if idat != nil {
		areas = append(areas, *idat)
	}
	for _, a := range areas {
		c.heifCoverage(a, extents)
	}
}

// heifIinf reads the item infos.
func (c *checker) heifIinf(d []byte, iinf box) map[uint32]*heifItem {
	items := map[uint32]*heifItem{}
	p := d[iinf.start:iinf.end]
	if len(p) < 6 {
		if iinf.typ != "" {
			c.addf("HEIF iinf is cut short")
		}
		return items
	}
	start := iinf.start + 6
	if p[0] != 0 {
		start += 2
	}
	for _, b := range c.children(d, iinf, start, "infe", "") {
		q := d[b.start:b.end]
		if len(q) < 4 || q[0] < 2 || q[0] > 3 {
			c.addf("HEIF %s is not an item info entry of version 2 or 3", b)
			continue
		}
		idLen := 2
		if q[0] == 3 {
			idLen = 4
		}
		if len(q) < 4+idLen+2+4 {
			c.addf("HEIF %s is cut short", b)
			continue
		}
		var id uint32
		if idLen == 2 {
			id = uint32(be16(q[4:]))
		} else {
			id = be32(q[4:])
		}
		typ := string(q[4+idLen+2 : 4+idLen+6])
		name := q[4+idLen+6:]
		if !hasWord(heifItemTypes, typ) {
			c.addf("HEIF item %d has type %q", id, typ)
		}
		if len(name) != 1 || name[0] != 0 {
			c.addf("HEIF item %d has a name or more fields (%.40q)", id, name)
		}
		if items[id] != nil {
			c.addf("HEIF item %d has two item info entries", id)
		}
		items[id] = &heifItem{typ: typ}
	}
	return items
}

// heifIloc reads the item locations, checks each extent lies in an mdat or
// the idat, gathers the Exif items' bytes, and returns every extent.
func (c *checker) heifIloc(d []byte, iloc box, items map[uint32]*heifItem, idat *box, mdats []box) []heifExtent {
	p := d[iloc.start:iloc.end]
	if len(p) < 8 {
		if iloc.typ != "" {
			c.addf("HEIF iloc is cut short")
		}
		return nil
	}
	v := p[0]
	if v > 2 {
		c.addf("HEIF iloc version %d", v)
		return nil
	}
	offSize, lenSize, baseSize, idxSize := int(p[4]>>4), int(p[4]&15), int(p[5]>>4), int(p[5]&15)
	if v == 0 {
		idxSize = 0
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			c.addf("HEIF iloc field size %d", s)
			return nil
		}
	}
	pos := 6
	bad := false
	read := func(n int) uint64 {
		if bad || pos+n > len(p) {
			bad = true
			return 0
		}
		var x uint64
		for _, b := range p[pos : pos+n] {
			x = x<<8 | uint64(b)
		}
		pos += n
		return x
	}
	var n uint64
	if v < 2 {
		n = read(2)
	} else {
		n = read(4)
	}
	var extents []heifExtent
	for i := uint64(0); i < n && !bad && c.step(); i++ {
		var id uint32
		if v < 2 {
			id = uint32(read(2))
		} else {
			id = uint32(read(4))
		}
		method := uint64(0)
		if v >= 1 {
			method = read(2) & 15
		}
		ref := read(2)
		base := read(baseSize)
		count := read(2)
		it := items[id]
		if it == nil && !bad {
			c.addf("HEIF iloc locates item %d, which has no item info", id)
		} else if it != nil {
			if it.located {
				c.addf("HEIF item %d is located twice", id)
			}
			it.located = true
		}
		if ref != 0 {
			c.addf("HEIF item %d lies in another file (data reference %d)", id, ref)
		}
		if method > 1 {
			c.addf("HEIF item %d uses construction method %d", id, method)
		}
		for j := uint64(0); j < count && !bad && c.step(); j++ {
			read(idxSize)
			off, ln := base+read(offSize), read(lenSize)
			if bad {
				break
			}
			e := heifExtent{idat: method == 1, off: off, len: ln}
			if ln == 0 {
				c.addf("HEIF item %d has an extent of length 0 (the whole source)", id)
				continue
			}
			var src []byte
			switch {
			case method == 1 && idat != nil && off+ln >= off && off+ln <= uint64(idat.end-idat.start):
				src = d[idat.start+int(off) : idat.start+int(off+ln)]
			case method == 0 && inAny(mdats, off, ln):
				src = d[off : off+ln]
			default:
				c.addf("HEIF item %d extent (%d bytes at %d, method %d) lies outside every mdat and the idat", id, ln, off, method)
				continue
			}
			extents = append(extents, e)
			if it != nil && it.typ == "Exif" && len(it.data)+len(src) <= 1<<24 {
				it.data = append(it.data, src...)
			}
		}
	}
	if bad {
		c.addf("HEIF iloc is cut short")
	}
	return extents
}

// heifCoverage reports bytes of an mdat or idat that no extent points at.
func (c *checker) heifCoverage(a box, extents []heifExtent) {
	type span struct{ from, to uint64 }
	var spans []span
	for _, e := range extents {
		from, to := e.off, e.off+e.len
		if e.idat != (a.typ == "idat") {
			continue
		}
		if e.idat {
			from, to = from+uint64(a.start), to+uint64(a.start)
		}
		spans = append(spans, span{from, to})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	at, uncovered := uint64(a.start), uint64(0)
	for _, s := range spans {
		if s.from > at {
			uncovered += min(s.from, uint64(a.end)) - at
		}
		at = max(at, s.to)
	}
	if at < uint64(a.end) {
		uncovered += uint64(a.end) - at
	}
	if uncovered > 0 {
		c.addf("HEIF %s holds %d bytes no item points at", a, uncovered)
	}
}

// heifIref checks item references: known types between known items.
func (c *checker) heifIref(d []byte, iref box, items map[uint32]*heifItem) {
	if iref.end-iref.start < 4 {
		c.addf("HEIF iref is cut short")
		return
	}
	wide := d[iref.start] != 0
	for _, r := range c.boxes(d, iref.start+4, iref.end, iref.String(), false) {
		if !hasWord(heifRefTypes, r.typ) {
			c.addf("HEIF iref holds a %q reference", r.typ)
		}
		w := 2
		if wide {
			w = 4
		}
		p := d[r.start:r.end]
		get := func(i int) uint32 {
			if w == 2 {
				return uint32(be16(p[i:]))
			}
			return be32(p[i:])
		}
		if len(p) < w+2 {
			c.addf("HEIF %s is cut short", r)
			continue
		}
		n := int(be16(p[w:]))
		if len(p) != w+2+n*w {
			c.addf("HEIF %s holds %d bytes for %d references", r, len(p), n)
			continue
		}
		for i := -1; i < n; i++ {
			id := get(w + 2 + i*w)
			if i < 0 {
				id = get(0)
			}
			if items[id] == nil {
				c.addf("HEIF %s names item %d, which has no item info", r, id)
			}
		}
	}
}

// heifIprp checks item properties and their associations.
func (c *checker) heifIprp(d []byte, iprp box, items map[uint32]*heifItem) {
	var nprops int
	for _, b := range c.children(d, iprp, iprp.start, "ipco ipma", "ipco") {
		switch b.typ {
		case "ipco":
			props := c.children(d, b, b.start, heifProperties, "")
			nprops = len(props)
		case "ipma":
			p := d[b.start:b.end]
			if len(p) < 8 {
				c.addf("HEIF ipma is cut short")
				continue
			}
			v, flags := p[0], p[3]
			pos, n := 8, be32(p[4:])
			for i := uint32(0); i < n && c.step(); i++ {
				idLen := 2
				if v >= 1 {
					idLen = 4
				}
				if pos+idLen+1 > len(p) {
					c.addf("HEIF ipma is cut short")
					return
				}
				var id uint32
				if idLen == 2 {
					id = uint32(be16(p[pos:]))
				} else {
					id = be32(p[pos:])
				}
				k := int(p[pos+idLen])
				pos += idLen + 1
				w := 1
				if flags&1 != 0 {
					w = 2
				}
				if pos+k*w > len(p) {
					c.addf("HEIF ipma is cut short")
					return
				}
				if items[id] == nil {
					c.addf("HEIF ipma gives properties to item %d, which has no item info", id)
				}
				for j := range k {
					var idx int
					if w == 1 {
						idx = int(p[pos+j] & 0x7F)
					} else {
						idx = int(be16(p[pos+2*j:]) & 0x7FFF)
					}
					if idx > nprops {
						c.addf("HEIF ipma gives item %d property %d of %d", id, idx, nprops)
					}
				}
				pos += k * w
			}
			if pos != len(p) {
				c.addf("HEIF ipma has %d bytes after its entries", len(p)-pos)
			}
		}
	}
}
