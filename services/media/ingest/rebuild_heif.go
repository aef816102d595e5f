package ingest

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"slices"
)

// A rebuilt HEIC/HEIF still image is three top-level boxes:
//   - ftyp, with its brands cut to the known HEIF ones;
//   - meta, written anew: hdlr ('pict', no name), a self-contained dinf,
//     pitm, iloc, iinf, iref, iprp (ipco and one ipma) and idat, all listing
//     only the kept items;
//   - one mdat holding exactly the kept items' data, which iloc points at.
//
// Kept items: the primary image and what it takes to show it: a grid's or
// overlay's tiles and an identity derivation's source ('dimg'), and the
// primary's alpha plane (an 'auxl' image whose auxC says alpha). Item types
// hvc1, jpeg, grid, iovl and iden only; AVIF never gets here (Sniff refuses
// it). An Exif item describing the primary is rebuilt by exifKept into a new
// Exif item. Kept properties: hvcC (parameter sets only), jpgC (frame
// markers only), ispe, colr (nclx, or a profile cleaned by keepICC), pixi,
// irot, imir, clap, pasp, auxC (alpha), rloc, lsel, each rewritten from its
// fixed fields.
//
// Dropped: thumbnails, depth maps, HDR gain maps, XMP and every other mime
// or uri item, item names, unknown items and properties, grpl, and every
// top-level box but the first ftyp and meta (free, skip, uuid, moov, a
// second meta) and bytes after the last box.
//
// Duplicate metadata containers are dropped: a meta may hold one of each
// box read here (hdlr, pitm, iinf, iloc, iref, iprp, idat, dinf; ipco and
// ipma in iprp), and the first is the one that counts, as libheif reads it
// (exiftool reads the last one, where a hostile writer may put an Exif
// item with a position); the rebuilt file has exactly one of each, so every
// reader sees the picture libheif shows.
//
// Refused as malformed: a primary of another type; a kept item stored elsewhere than
// in an mdat or idat, protected, or needing an essential property that is
// not kept.

// heifImageTypes are the item types a kept image may have.
var heifImageTypes = map[string]bool{"hvc1": true, "grid": true, "iden": true, "iovl": true, "jpeg": true}

// heifBrands are the ftyp brands kept.
var heifBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true, "mif1": true, "mif2": true, "miaf": true,
	"MiHE": true, "MiHA": true, "MiHB": true, "MiPr": true, "MiAC": true, "MiAN": true, "MiCm": true,
	"jpeg": true, "iso8": true, "unif": true,
}

// heifAlphaTypes are the auxC types of an alpha plane.
var heifAlphaTypes = map[string]bool{
	"urn:mpeg:hevc:2015:auxid:1":                  true,
	"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha": true,
}

// heifRefTypes are the item references kept between kept items; the Exif
// item's 'cdsc' is written anew.
var heifRefTypes = map[string]bool{"dimg": true, "auxl": true, "base": true}

// heifItemInfo is one item as iinf describes it.
type heifItemInfo struct {
	id        uint32
	typ       string
	hidden    bool
	protected bool
}

// heifLoc is one item's data as iloc places it: construction method 0
// (extents of the file) or 1 (of idat); 2 and other files are refused.
type heifLoc struct {
	method  int
	dataRef uint16
	base    uint64
	// extents are read when the item is used: n of them in raw, each
	// an index, an offset and a length of the sizes in sizes.
	n     int
	raw   []byte
	sizes [3]int
}

// heifAssoc is one property association of ipma: a 1-based ipco index.
type heifAssoc struct {
	essential bool
	index     int
}

// heifRef is one item reference of iref.
type heifRef struct {
	typ  string
	from uint32
	to   []uint32
}

// heifMeta is what the rebuild reads from the meta box.
type heifMeta struct {
	primary uint32
	items   []heifItemInfo // in iinf order
	byID    map[uint32]*heifItemInfo
	locs    map[uint32]heifLoc
	props   []heifBox // ipco children; index i+1
	assoc   map[uint32][]heifAssoc
	refs    []heifRef
	dimgOf  map[uint32][]uint32 // derived image -> its sources
	idat    []byte
	mdats   [][2]int64 // payload ranges of the top-level mdat boxes
}

// rebuildHEIF plans the rebuilt HEIC/HEIF still image.
func rebuildHEIF(s *source, out *builder, info *Info, opt Options) error {
	var (
		ftyp  []byte
		meta  *heifBox
		mdats [][2]int64 // payload ranges
	)
	for off := int64(0); off < s.size; {
		b, ok, err := heifTopBox(s, off)
		if err != nil {
			return err
		}
		if !ok {
			break // not a box: trailing bytes, dropped
		}
		if off == 0 && b.typ != "ftyp" {
			return malformed("HEIF file does not start with an ftyp box")
		}
		switch {
		case b.typ == "ftyp" && off == 0:
			p, err := s.load(b.data, b.end-b.data)
			if err != nil {
				return err
			}
			if ftyp, err = heifFtyp(p); err != nil {
				return err
			}
		case b.typ == "meta" && meta == nil: // a second meta is dropped
			if b.body, err = s.load(b.data, b.end-b.data); err != nil {
				return err
			}
			meta = &b
		case b.typ == "mdat":
			mdats = append(mdats, [2]int64{b.data, b.end})
		}
		off = b.end
	}
	if ftyp == nil {
		return malformed("HEIF file does not start with an ftyp box")
	}
	if meta == nil {
		return malformed("HEIF file without a meta box")
	}
	m, err := heifReadMeta(s, *meta, mdats)
	if err != nil {
		return err
	}
	return heifWrite(s, out, info, opt, ftyp, m)
}

// heifFtyp rebuilds the ftyp payload p with the known brands only.
func heifFtyp(p []byte) ([]byte, error) {
	if len(p) < 8 || len(p)%4 != 0 {
		return nil, malformed("HEIF ftyp box of %d bytes", len(p))
	}
	major := p[:4]
	if !heifBrands[string(major)] {
		major = []byte("mif1") // any HEIF file is one; Sniff found the codec brand among the others
	}
	out := append(bytes.Clone(major), p[4:8]...)
	for i := 8; i < len(p); i += 4 {
		if heifBrands[string(p[i:i+4])] {
			out = append(out, p[i:i+4]...)
		}
	}
	return heifBoxPut("ftyp", out), nil
}

// heifReadMeta reads the meta box: items, their places, properties and
// references.
func heifReadMeta(s *source, meta heifBox, mdats [][2]int64) (*heifMeta, error) {
	version, _, rest, err := heifBoxFull(meta)
	if err != nil {
		return nil, err
	}
	if version != 0 {
		return nil, malformed("HEIF meta box version %d", version)
	}
	children, err := heifBoxChildren(s, rest, meta.data+4)
	if err != nil {
		return nil, err
	}
	boxes := map[string]heifBox{}
	for _, c := range children {
		switch c.typ {
		case "hdlr", "pitm", "iloc", "iinf", "iref", "iprp", "idat", "dinf":
			if _, dup := boxes[c.typ]; !dup {
				boxes[c.typ] = c // a second one is dropped
			}
		}
	}
	for _, need := range []string{"hdlr", "pitm", "iinf", "iloc"} {
		if _, ok := boxes[need]; !ok {
			return nil, malformed("HEIF meta box without %s", need)
		}
	}
	_, _, h, err := heifBoxFull(boxes["hdlr"])
	if err != nil {
		return nil, err
	}
	if len(h) < 8 || string(h[4:8]) != "pict" {
		return nil, malformed("HEIF meta box whose handler is not 'pict'")
	}
	m := &heifMeta{byID: map[uint32]*heifItemInfo{}, locs: map[uint32]heifLoc{}, assoc: map[uint32][]heifAssoc{},
		dimgOf: map[uint32][]uint32{}, mdats: mdats}
	if idat, ok := boxes["idat"]; ok {
		m.idat = idat.body
	}
	if m.primary, err = heifPitm(boxes["pitm"]); err != nil {
		return nil, err
	}
	if err := m.readIinf(s, boxes["iinf"]); err != nil {
		return nil, err
	}
	if err := m.readIloc(s, boxes["iloc"]); err != nil {
		return nil, err
	}
	if iref, ok := boxes["iref"]; ok {
		if err := m.readIref(s, iref); err != nil {
			return nil, err
		}
	}
	if iprp, ok := boxes["iprp"]; ok {
		if err := m.readIprp(s, iprp); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// heifPitm reads the primary item's id.
func heifPitm(b heifBox) (uint32, error) {
	version, _, rest, err := heifBoxFull(b)
	if err != nil {
		return 0, err
	}
	r := heifBoxReader{p: rest}
	id := uint32(r.u16())
	if version != 0 {
		r = heifBoxReader{p: rest}
		id = r.u32()
	}
	if r.bad {
		return 0, malformed("HEIF pitm box too short")
	}
	return id, nil
}

// readIinf reads the item infos. Entries of versions 0 and 1 have no item
// type and describe no image: they are left out.
func (m *heifMeta) readIinf(s *source, b heifBox) error {
	version, _, rest, err := heifBoxFull(b)
	if err != nil {
		return err
	}
	r := heifBoxReader{p: rest}
	count := uint64(r.u16())
	if version != 0 {
		r = heifBoxReader{p: rest}
		count = uint64(r.u32())
	}
	if r.bad {
		return malformed("HEIF iinf box too short")
	}
	children, err := heifBoxChildren(s, r.p, b.at)
	if err != nil {
		return err
	}
	if uint64(len(children)) != count {
		return malformed("HEIF iinf box says %d items and holds %d boxes", count, len(children))
	}
	for _, c := range children {
		if c.typ != "infe" {
			return malformed("HEIF iinf box holding a %q box", c.typ)
		}
		v, flags, rest, err := heifBoxFull(c)
		if err != nil {
			return err
		}
		if v < 2 {
			continue
		}
		r := heifBoxReader{p: rest}
		var it heifItemInfo
		if v == 2 {
			it.id = uint32(r.u16())
		} else {
			it.id = r.u32()
		}
		it.protected = r.u16() != 0
		it.typ = string(r.p[:min(4, len(r.p))])
		r.uint(4)
		if r.bad {
			return malformed("HEIF infe box at byte %d too short", c.at)
		}
		it.hidden = flags&1 != 0
		if m.byID[it.id] != nil {
			return malformed("HEIF item %d described twice", it.id)
		}
		m.items = append(m.items, it)
		m.byID[it.id] = &it
	}
	for i := range m.items {
		m.byID[m.items[i].id] = &m.items[i]
	}
	return nil
}

// readIloc reads the item locations as written; place resolves and checks
// them for the items that are used.
func (m *heifMeta) readIloc(s *source, b heifBox) error {
	version, _, rest, err := heifBoxFull(b)
	if err != nil {
		return err
	}
	if version > 2 {
		return malformed("HEIF iloc box version %d", version)
	}
	r := heifBoxReader{p: rest}
	sizes := r.u16()
	offSize, lenSize, baseSize, idxSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15), int(sizes&15)
	if version == 0 {
		idxSize = 0
	}
	for _, n := range []int{offSize, lenSize, baseSize, idxSize} {
		if n != 0 && n != 4 && n != 8 {
			return malformed("HEIF iloc box with %d-byte fields", n)
		}
	}
	idSize := 2
	if version == 2 {
		idSize = 4
	}
	count := r.uint(idSize)
	for i := uint64(0); i < count && !r.bad; i++ {
		id := uint32(r.uint(idSize))
		var loc heifLoc
		if version > 0 {
			loc.method = int(r.u16() & 15)
		}
		loc.dataRef = r.u16()
		loc.base = r.uint(baseSize)
		loc.n = int(r.u16())
		loc.sizes = [3]int{idxSize, offSize, lenSize}
		size := loc.n * (idxSize + offSize + lenSize)
		if r.bad || size > len(r.p) {
			r.bad = true
			break
		}
		loc.raw, r.p = r.p[:size], r.p[size:]
		if _, dup := m.locs[id]; dup {
			return malformed("HEIF item %d placed twice", id)
		}
		m.locs[id] = loc
	}
	if r.bad {
		return malformed("HEIF iloc box too short")
	}
	return nil
}

// place returns item id's data as extents of the file (inside an mdat box)
// or, when idat is true, of the idat box.
func (m *heifMeta) place(s *source, id uint32) (extents [][2]int64, idat bool, err error) {
	loc, ok := m.locs[id]
	if !ok {
		return nil, false, nil
	}
	if loc.dataRef != 0 || loc.method > 1 {
		return nil, false, malformed("HEIF item %d is stored in another file or inside another item", id)
	}
	idat = loc.method == 1
	r := heifBoxReader{p: loc.raw}
	var total int64
	for range loc.n {
		// Extents of zero-size fields take no bytes in iloc: count them.
		if err := s.step(); err != nil {
			return nil, false, err
		}
		r.uint(loc.sizes[0])
		e := [2]uint64{loc.base + r.uint(loc.sizes[1]), r.uint(loc.sizes[2])}
		space := [2]int64{0, int64(len(m.idat))}
		if !idat {
			space = [2]int64{math.MaxInt64, 0}
			for _, d := range m.mdats {
				if e[0] >= uint64(d[0]) && e[0] < uint64(d[1]) {
					space = d
				}
			}
		}
		off, n := int64(min(e[0], math.MaxInt64)), int64(min(e[1], math.MaxInt64))
		if e[1] == 0 { // to the end of its space
			n = space[1] - off
		}
		if e[0] < loc.base || off < space[0] || n <= 0 || n > space[1]-off {
			where := "an mdat box"
			if idat {
				where = "the idat box"
			}
			return nil, false, malformed("HEIF item %d has data outside %s", id, where)
		}
		if total += n; total > s.size {
			// Only extents used twice add up to more than the upload.
			return nil, false, malformed("HEIF item %d whose data adds up to more than the file", id)
		}
		extents = append(extents, [2]int64{off, n})
	}
	return extents, idat, nil
}

// readIref reads the item references.
func (m *heifMeta) readIref(s *source, b heifBox) error {
	version, _, rest, err := heifBoxFull(b)
	if err != nil {
		return err
	}
	idSize := 2
	if version != 0 {
		idSize = 4
	}
	children, err := heifBoxChildren(s, rest, b.at)
	if err != nil {
		return err
	}
	for _, c := range children {
		r := heifBoxReader{p: c.body}
		ref := heifRef{typ: c.typ, from: uint32(r.uint(idSize))}
		n := int(r.u16())
		for range n {
			ref.to = append(ref.to, uint32(r.uint(idSize)))
		}
		if r.bad || len(r.p) != 0 {
			return malformed("HEIF %q reference at byte %d does not fit its box", c.typ, c.at)
		}
		if ref.typ == "dimg" {
			if _, dup := m.dimgOf[ref.from]; dup {
				return malformed("HEIF item %d derived twice", ref.from)
			}
			m.dimgOf[ref.from] = ref.to
		}
		m.refs = append(m.refs, ref)
	}
	return nil
}

// readIprp reads the property container and the associations.
func (m *heifMeta) readIprp(s *source, b heifBox) error {
	children, err := heifBoxChildren(s, b.body, b.data)
	if err != nil {
		return err
	}
	var ipco, ipma *heifBox
	for i, c := range children {
		switch c.typ {
		case "ipco", "ipma":
			p := &ipco
			if c.typ == "ipma" {
				p = &ipma
			}
			if *p == nil { // a second one is dropped
				*p = &children[i]
			}
		}
	}
	if ipco == nil || ipma == nil {
		return malformed("HEIF iprp box without ipco or ipma")
	}
	if m.props, err = heifBoxChildren(s, ipco.body, ipco.at+8); err != nil {
		return err
	}
	version, flags, rest, err := heifBoxFull(*ipma)
	if err != nil {
		return err
	}
	idSize, idxSize := 2, 1
	if version != 0 {
		idSize = 4
	}
	if flags&1 != 0 {
		idxSize = 2
	}
	r := heifBoxReader{p: rest}
	count := r.u32()
	for i := uint32(0); i < count && !r.bad; i++ {
		if err := s.step(); err != nil {
			return err
		}
		id := uint32(r.uint(idSize))
		n := int(r.u8())
		if _, dup := m.assoc[id]; dup {
			return malformed("HEIF item %d has two property lists", id)
		}
		list := []heifAssoc{}
		for range n {
			v := r.uint(idxSize)
			bit := uint64(1) << (8*idxSize - 1)
			a := heifAssoc{essential: v&bit != 0, index: int(v &^ bit)}
			if a.index > len(m.props) {
				return malformed("HEIF item %d associated with property %d of %d", id, a.index, len(m.props))
			}
			if a.index > 0 {
				list = append(list, a)
			}
		}
		m.assoc[id] = list
	}
	if r.bad {
		return malformed("HEIF ipma box too short")
	}
	return nil
}

// keep adds id and the items it is derived from to kept, in order.
func (m *heifMeta) keep(id uint32, kept map[uint32]bool) error {
	queue := []uint32{id}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if kept[id] {
			continue
		}
		it := m.byID[id]
		if it == nil {
			return malformed("HEIF item %d is needed but not described", id)
		}
		if !heifImageTypes[it.typ] {
			return malformed("HEIF image item %d of unsupported type %q", id, it.typ)
		}
		if it.protected {
			return malformed("HEIF image item %d is encrypted", id)
		}
		kept[id] = true
		from := m.dimgOf[id]
		if (it.typ == "grid" || it.typ == "iovl" || it.typ == "iden") && len(from) == 0 {
			return malformed("HEIF derived image %d has no source images", id)
		}
		queue = append(queue, from...)
	}
	return nil
}

// auxType returns the auxC type of item id, or "".
func (m *heifMeta) auxType(id uint32) string {
	for _, a := range m.assoc[id] {
		p := m.props[a.index-1]
		if p.typ != "auxC" {
			continue
		}
		if _, _, rest, err := heifBoxFull(p); err == nil {
			r := heifBoxReader{p: rest}
			return r.cstr()
		}
	}
	return ""
}

// heifItemData is a kept item's new data: bytes to go to idat, or pieces
// of the mdat.
type heifItemData struct {
	idat bool
	b    builder
	lit  []byte // for idat, and for data written anew
}

// heifWrite plans the rebuilt file from what heifReadMeta read.
func heifWrite(s *source, out *builder, info *Info, opt Options, ftyp []byte, m *heifMeta) error {
	prim := m.byID[m.primary]
	if prim == nil {
		return malformed("HEIF primary item %d is not described", m.primary)
	}
	if !heifImageTypes[prim.typ] {
		return malformed("HEIF primary image of unsupported type %q", prim.typ)
	}
	kept := map[uint32]bool{}
	if err := m.keep(m.primary, kept); err != nil {
		return err
	}
	for _, r := range m.refs {
		if r.typ == "auxl" && slices.Contains(r.to, m.primary) && !kept[r.from] &&
			m.byID[r.from] != nil && heifAlphaTypes[m.auxType(r.from)] {
			if err := m.keep(r.from, kept); err != nil {
				return err
			}
		}
	}

	// The Exif item describing the primary, rebuilt.
	var exifID uint32
	var exif []byte
	describes := map[uint32]bool{}
	for _, r := range m.refs {
		if r.typ == "cdsc" && slices.Contains(r.to, m.primary) {
			describes[r.from] = true
		}
	}
	for _, it := range m.items {
		if it.typ != "Exif" || it.protected || exif != nil || !describes[it.id] {
			continue
		}
		p, err := m.load(s, it.id)
		if err != nil || len(p) < 4 {
			continue // an Exif item that cannot be read is dropped
		}
		skip := binary.BigEndian.Uint32(p)
		if uint64(skip) > uint64(len(p)-4) {
			continue
		}
		k, ok := readEXIF(p[4+skip:], opt.KeepLocation)
		if !ok || k.empty() {
			continue
		}
		info.Orientation = max(k.orientation, 1)
		info.TakenTime = k.taken
		exifID, exif = it.id, append([]byte{0, 0, 0, 0}, k.tiff()...)
	}

	// The kept items in iinf order, with their new data.
	var order []uint32
	data := map[uint32]*heifItemData{}
	for _, it := range m.items {
		switch {
		case it.id == exifID && exif != nil:
			data[it.id] = &heifItemData{lit: exif}
		case kept[it.id]:
			d, err := m.itemData(s, it)
			if err != nil {
				return err
			}
			data[it.id] = d
		default:
			continue
		}
		order = append(order, it.id)
	}

	// Properties: the kept items' allowlisted ones, in their ipco order.
	used, essential := map[int]bool{}, map[int]bool{}
	for id := range kept {
		for _, a := range m.assoc[id] {
			used[a.index] = true
			essential[a.index] = essential[a.index] || a.essential
		}
	}
	newIndex := map[int]int{}
	var ipco [][]byte
	for i, p := range m.props {
		if !used[i+1] {
			continue
		}
		kp, err := heifProperty(p)
		if err != nil {
			return err
		}
		if kp == nil {
			if essential[i+1] {
				return malformed("HEIF image needs a %q property that cannot be kept", p.typ)
			}
			continue
		}
		ipco = append(ipco, kp)
		newIndex[i+1] = len(ipco)
	}

	// References between kept items, then the Exif item's.
	var refs []heifRef
	for _, r := range m.refs {
		if !heifRefTypes[r.typ] || !kept[r.from] {
			continue
		}
		to := []uint32{}
		for _, t := range r.to {
			if kept[t] {
				to = append(to, t)
			}
		}
		if r.typ == "dimg" && len(to) != len(r.to) {
			return malformed("HEIF derived image %d refers to items that cannot be kept", r.from)
		}
		if len(to) > 0 {
			refs = append(refs, heifRef{r.typ, r.from, to})
		}
	}
	if exif != nil {
		refs = append(refs, heifRef{"cdsc", exifID, []uint32{m.primary}})
	}

	// Lay out idat and mdat.
	var idat []byte
	var mdat builder
	place := map[uint32][2]int64{} // offset in idat or mdat, length
	for _, id := range order {
		d := data[id]
		if mdat.pos()+int64(len(idat)+len(d.lit))+d.b.pos() > s.size+int64(len(exif)) {
			// Only extents used twice add up to more than the upload.
			return malformed("HEIF items whose data adds up to more than the file")
		}
		switch {
		case d.idat:
			place[id] = [2]int64{int64(len(idat)), int64(len(d.lit))}
			idat = append(idat, d.lit...)
		case d.lit != nil:
			place[id] = [2]int64{mdat.pos(), int64(len(d.lit))}
			mdat.bytes(d.lit)
		default:
			place[id] = [2]int64{mdat.pos(), d.b.pos()}
			mdat.append(&d.b)
		}
	}
	mdatHdr := int64(8)
	if mdat.pos()+8 > math.MaxUint32 {
		mdatHdr = 16
	}
	if mdat.pos() == 0 {
		mdatHdr = 0
	}
	build := func(wide bool, start int64) []byte {
		return heifMetaBox(m, order, kept, data, place, refs, ipco, newIndex, idat, wide, start)
	}
	wide := false
	start := int64(len(ftyp)+len(build(false, 0))) + mdatHdr
	if start+mdat.pos() > math.MaxUint32 {
		wide = true
		start = int64(len(ftyp)+len(build(true, 0))) + mdatHdr
	}
	out.bytes(ftyp)
	out.bytes(build(wide, start))
	switch mdatHdr {
	case 8:
		out.bytes(append(binary.BigEndian.AppendUint32(nil, uint32(mdat.pos()+8)), "mdat"...))
	case 16:
		h := append(binary.BigEndian.AppendUint32(nil, 1), "mdat"...)
		out.bytes(binary.BigEndian.AppendUint64(h, uint64(mdat.pos()+16)))
	}
	out.append(&mdat)
	return nil
}

// load reads item id's data into memory (for Exif).
func (m *heifMeta) load(s *source, id uint32) ([]byte, error) {
	extents, idat, err := m.place(s, id)
	if err != nil {
		return nil, err
	}
	var p []byte
	for _, e := range extents {
		if idat {
			p = append(p, m.idat[e[0]:e[0]+e[1]]...)
			continue
		}
		b, err := s.load(e[0], e[1])
		if err != nil {
			return nil, err
		}
		p = append(p, b...)
		if len(p) > maxBlock {
			return nil, malformed("a metadata block of more than %d bytes", maxBlock)
		}
	}
	return p, nil
}

// itemData returns the new data of kept image item it: the coded image's
// bytes as they are, a JPEG rebuilt, a grid's or overlay's fixed fields.
func (m *heifMeta) itemData(s *source, it heifItemInfo) (*heifItemData, error) {
	extents, idat, err := m.place(s, it.id)
	if err != nil {
		return nil, err
	}
	if len(extents) == 0 {
		if it.typ == "iden" {
			return &heifItemData{}, nil
		}
		return nil, malformed("HEIF image item %d has no data", it.id)
	}
	d := &heifItemData{idat: idat}
	switch it.typ {
	case "grid", "iovl":
		p, err := m.load(s, it.id)
		if err != nil {
			return nil, err
		}
		if d.lit, err = heifDerivation(it.typ, p, len(m.dimgOf[it.id])); err != nil {
			return nil, malformed("HEIF %s item %d: %v", it.typ, it.id, Reason(err))
		}
		return d, nil
	case "iden":
		return &heifItemData{}, nil
	case "jpeg":
		if idat || len(extents) != 1 {
			return nil, malformed("HEIF JPEG item %d not in one piece of an mdat box", it.id)
		}
		e := extents[0]
		sub := &source{r: io.NewSectionReader(s.r, e[0], e[1]), size: e[1], items: s.items, loaded: s.loaded}
		var b builder
		if err := rebuildJPEG(sub, &b, &Info{}, Options{}); err != nil {
			return nil, err
		}
		s.items, s.loaded = sub.items, sub.loaded
		for _, p := range b.pieces {
			switch {
			case p.lit != nil:
				d.b.bytes(p.lit)
			case p.off < 0:
				d.b.zeros(p.n)
			default:
				d.b.copy(e[0]+p.off, p.n)
			}
		}
		return d, nil
	}
	// hvc1: the coded image as it is.
	for _, e := range extents {
		if idat {
			d.lit = append(d.lit, m.idat[e[0]:e[0]+e[1]]...)
		} else {
			d.b.copy(e[0], e[1])
		}
	}
	return d, nil
}

// heifDerivation returns the fixed fields of a grid or overlay item's
// data, for n source images.
func heifDerivation(typ string, p []byte, n int) ([]byte, error) {
	if len(p) < 2 || p[0] != 0 {
		return nil, malformed("unknown version")
	}
	field := 2
	if p[1]&1 != 0 {
		field = 4
	}
	var size int
	if typ == "grid" {
		if len(p) < 4 {
			return nil, malformed("too short")
		}
		if rows, cols := int(p[2])+1, int(p[3])+1; rows*cols != n {
			return nil, malformed("%d tiles for a %dx%d grid", n, rows, cols)
		}
		size = 4 + 2*field
	} else {
		size = 2 + 8 + 2*field + n*2*field
	}
	if len(p) < size {
		return nil, malformed("too short")
	}
	return bytes.Clone(p[:size]), nil
}

// heifProperty returns property p rebuilt from its fixed fields, nil when
// it is not kept.
func heifProperty(p heifBox) ([]byte, error) {
	short := func() error { return malformed("HEIF %q property at byte %d too short", p.typ, p.at) }
	fixed := func(n int) ([]byte, error) {
		if len(p.body) < n {
			return nil, short()
		}
		return heifBoxPut(p.typ, p.body[:n]), nil
	}
	switch p.typ {
	case "ispe", "rloc":
		return fixed(12)
	case "clap":
		return fixed(32)
	case "pasp":
		return fixed(8)
	case "lsel":
		return fixed(2)
	case "irot":
		if len(p.body) < 1 {
			return nil, short()
		}
		return heifBoxPut("irot", []byte{p.body[0] & 3}), nil
	case "imir":
		if len(p.body) < 1 {
			return nil, short()
		}
		return heifBoxPut("imir", []byte{p.body[0] & 1}), nil
	case "pixi":
		if len(p.body) < 5 {
			return nil, short()
		}
		return fixed(5 + int(p.body[4]))
	case "colr":
		if len(p.body) < 4 {
			return nil, short()
		}
		switch string(p.body[:4]) {
		case "nclx":
			return fixed(11)
		case "prof", "rICC":
			if icc := keepICC(p.body[4:]); icc != nil {
				return heifBoxPut("colr", p.body[:4], icc), nil
			}
		}
		return nil, nil
	case "auxC":
		_, _, rest, err := heifBoxFull(p)
		if err != nil {
			return nil, err
		}
		r := heifBoxReader{p: rest}
		if t := r.cstr(); heifAlphaTypes[t] {
			return heifBoxPutFull("auxC", 0, 0, append([]byte(t), 0)), nil
		}
		return nil, nil
	case "hvcC":
		return heifHvcC(p)
	case "jpgC":
		return heifJpgC(p)
	}
	return nil, nil
}

// heifHvcC keeps an HEVC configuration's fixed fields and its parameter
// sets (keepHvcC).
func heifHvcC(p heifBox) ([]byte, error) {
	kept, ok := keepHvcC(p.body)
	if !ok {
		return nil, malformed("HEIF hvcC property at byte %d cut short", p.at)
	}
	return heifBoxPut("hvcC", kept), nil
}

// heifJpgC keeps a JPEG configuration's frame marker segments (tables and
// frame header), as rebuildJPEG does.
func heifJpgC(p heifBox) ([]byte, error) {
	bad := malformed("HEIF jpgC property at byte %d malformed", p.at)
	var out []byte
	q := p.body
	for len(q) > 0 {
		if len(q) < 2 || q[0] != 0xFF {
			return nil, bad
		}
		if q[1] == markerSOI {
			out, q = append(out, q[:2]...), q[2:]
			continue
		}
		if len(q) < 4 {
			return nil, bad
		}
		n := int(binary.BigEndian.Uint16(q[2:])) + 2
		if n < 4 || n > len(q) {
			return nil, bad
		}
		if isFrameMarker(q[1]) {
			out = append(out, q[:n]...)
		}
		q = q[n:]
	}
	return heifBoxPut("jpgC", out), nil
}

// heifMetaBox writes the new meta box. wide selects 8-byte iloc offsets
// and lengths; start is where the mdat payload begins in the file.
func heifMetaBox(m *heifMeta, order []uint32, kept map[uint32]bool, data map[uint32]*heifItemData, place map[uint32][2]int64,
	refs []heifRef, ipco [][]byte, newIndex map[int]int, idat []byte, wide bool, start int64) []byte {
	big := func(id uint32) bool { return id > math.MaxUint16 }
	anyBig := big(m.primary)
	anyIdat := false
	for _, id := range order {
		anyBig = anyBig || big(id)
		anyIdat = anyIdat || data[id].idat
	}
	idSize := 2
	if anyBig {
		idSize = 4
	}

	hdlr := heifBoxPutFull("hdlr", 0, 0, make([]byte, 4), []byte("pict"), make([]byte, 12), []byte{0})
	dinf := heifBoxPut("dinf", heifBoxPutFull("dref", 0, 0, []byte{0, 0, 0, 1}, heifBoxPutFull("url ", 0, 1)))
	var pitm []byte
	if anyBig {
		pitm = heifBoxPutFull("pitm", 1, 0, heifBoxUint(nil, uint64(m.primary), 4))
	} else {
		pitm = heifBoxPutFull("pitm", 0, 0, heifBoxUint(nil, uint64(m.primary), 2))
	}

	// iloc: one extent per item with data.
	fieldSize := 4
	if wide {
		fieldSize = 8
	}
	ilocVersion := byte(0)
	switch {
	case anyBig:
		ilocVersion = 2
	case anyIdat:
		ilocVersion = 1
	}
	var located []uint32
	for _, id := range order {
		if place[id][1] > 0 {
			located = append(located, id)
		}
	}
	il := []byte{byte(fieldSize<<4 | fieldSize), 0}
	il = heifBoxUint(il, uint64(len(located)), idSize)
	for _, id := range located {
		il = heifBoxUint(il, uint64(id), idSize)
		off := place[id][0]
		if ilocVersion > 0 {
			method := uint64(0)
			if data[id].idat {
				method = 1
			}
			il = heifBoxUint(il, method, 2)
		}
		if !data[id].idat {
			off += start
		}
		il = heifBoxUint(il, 0, 2) // data reference: this file
		il = heifBoxUint(il, 1, 2) // one extent
		il = heifBoxUint(il, uint64(off), fieldSize)
		il = heifBoxUint(il, uint64(place[id][1]), fieldSize)
	}
	iloc := heifBoxPutFull("iloc", ilocVersion, 0, il)

	// iinf: type and hidden flag, no names.
	var infes [][]byte
	for _, id := range order {
		it := m.byID[id]
		flags := uint32(0)
		if it.hidden {
			flags = 1
		}
		if big(id) {
			infes = append(infes, heifBoxPutFull("infe", 3, flags, heifBoxUint(nil, uint64(id), 4), []byte{0, 0}, []byte(it.typ), []byte{0}))
		} else {
			infes = append(infes, heifBoxPutFull("infe", 2, flags, heifBoxUint(nil, uint64(id), 2), []byte{0, 0}, []byte(it.typ), []byte{0}))
		}
	}
	var iinf []byte
	if len(infes) > math.MaxUint16 {
		iinf = heifBoxPutFull("iinf", 1, 0, append([][]byte{heifBoxUint(nil, uint64(len(infes)), 4)}, infes...)...)
	} else {
		iinf = heifBoxPutFull("iinf", 0, 0, append([][]byte{heifBoxUint(nil, uint64(len(infes)), 2)}, infes...)...)
	}

	var iref []byte
	if len(refs) > 0 {
		var rs [][]byte
		for _, r := range refs {
			p := heifBoxUint(nil, uint64(r.from), idSize)
			p = heifBoxUint(p, uint64(len(r.to)), 2)
			for _, t := range r.to {
				p = heifBoxUint(p, uint64(t), idSize)
			}
			rs = append(rs, heifBoxPut(r.typ, p))
		}
		v := byte(0)
		if anyBig {
			v = 1
		}
		iref = heifBoxPutFull("iref", v, 0, rs...)
	}

	// ipma: the kept items' associations, renumbered.
	wideIndex := len(ipco) > 127
	var entries []byte
	count := 0
	for _, id := range order {
		var as []heifAssoc
		for _, a := range m.assoc[id] {
			if n := newIndex[a.index]; n > 0 && kept[id] {
				as = append(as, heifAssoc{a.essential, n})
			}
		}
		if len(as) == 0 || len(as) > 255 {
			continue
		}
		count++
		entries = heifBoxUint(entries, uint64(id), idSize)
		entries = append(entries, byte(len(as)))
		for _, a := range as {
			v, bits := uint64(a.index), 8
			if wideIndex {
				bits = 16
			}
			if a.essential {
				v |= 1 << (bits - 1)
			}
			entries = heifBoxUint(entries, v, bits/8)
		}
	}
	var iprp []byte
	if len(ipco) > 0 {
		v, flags := byte(0), uint32(0)
		if anyBig {
			v = 1
		}
		if wideIndex {
			flags = 1
		}
		ipma := heifBoxPutFull("ipma", v, flags, heifBoxUint(nil, uint64(count), 4), entries)
		iprp = heifBoxPut("iprp", heifBoxPut("ipco", ipco...), ipma)
	}
	var idatBox []byte
	if len(idat) > 0 {
		idatBox = heifBoxPut("idat", idat)
	}
	return heifBoxPutFull("meta", 0, 0, hdlr, dinf, pitm, iloc, iinf, iref, iprp, idatBox)
}
