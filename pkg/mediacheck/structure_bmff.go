package mediacheck

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// An ISO BMFF film (MP4, QuickTime, 3GP) may hold only:
//   - top level: ftyp (first), moov (once), mdat (a size of 0, "to the end",
//     only for the last box);
//   - moov: mvhd, trak, mvex (mehd, trex);
//   - moof boxes of a fragmented film: see structure_fragment.go;
//   - trak: tkhd, edts (elst), mdia, tapt (clef, prof, enof);
//   - mdia: mdhd, hdlr (handler vide or soun, empty name), minf;
//   - minf: vmhd or smhd, dinf (dref of self-contained url/alis entries),
//     stbl, hdlr (a data handler with an empty name);
//   - stbl: stsd, stts, ctts, cslg, stss, stps, sdtp, stsc, stsz, stz2,
//     stco, co64, sgpd, sbgp;
//   - stsd: sample entries of video or audio codecs, whose children are only
//     codec configurations (avcC, hvcC, vpcC, av1C, esds, d263, damr, glbl,
//     dvcC, dvvC, dOps, dac3, dec3, alac, dfLa), pasp, colr, btrt, clap,
//     fiel, gama, mdcv, clli, chan and wave (frma, esds, enda, mp4a,
//     terminator); a video entry's compressor name is all zero;
//   - every chunk offset (stco, co64) inside an mdat's data.
//
// No udta, meta, uuid, free, skip or wide box anywhere, no timed metadata
// track (gpmd, camm, mebx: their handlers are not vide or soun).
//
// HEIF/HEIC pictures: see structure_heif.go. A HEIF image sequence may hold
// both a meta box and a moov whose tracks have the pict handler.

// bmffKind says which ISO BMFF allowlist applies.
type bmffKind int

const (
	bmffVideo bmffKind = iota
	bmffImage
	bmffImageSequence
)

// box is one ISO BMFF box.
type box struct {
	typ        string
	at         int // offset of the box header in the file
	start, end int // its payload
}

// path names a box for messages.
func (b box) String() string { return fmt.Sprintf("%q box at byte %d", b.typ, b.at) }

// boxes splits d[start:end] into boxes; toEnd allows a last box of size 0
// (it runs to end).
func (c *checker) boxes(d []byte, start, end int, where string, toEnd bool) []box {
	var out []box
	for p := start; p < end && c.step(); {
		if p+8 > end {
			c.addf("%s: %d bytes at byte %d are not a box", where, end-p, p)
			return out
		}
		size := uint64(be32(d[p:]))
		typ := string(d[p+4 : p+8])
		h := 8
		switch size {
		case 1:
			if p+16 > end {
				c.addf("%s: box %q at byte %d is cut short", where, typ, p)
				return out
			}
			size = be64(d[p+8:])
			h = 16
		case 0:
			if !toEnd {
				c.addf("%s: box %q at byte %d has size 0 (to the end) where that is not allowed", where, typ, p)
			}
			size = uint64(end - p)
		}
		if size < uint64(h) || size > uint64(end-p) {
			c.addf("%s: box %q at byte %d has size %d outside its parent", where, typ, p, size)
			return out
		}
		out = append(out, box{typ, p, p + h, p + int(size)})
		p += int(size)
	}
	return out
}

// children checks that a container's boxes are all in allowed, with at
// most one of each name in once, and returns them.
func (c *checker) children(d []byte, parent box, start int, allowed string, once string) []box {
	where := parent.String()
	if start > parent.end {
		c.addf("%s is cut short", where)
		return nil
	}
	bs := c.boxes(d, start, parent.end, where, false)
	count := map[string]int{}
	for _, b := range bs {
		count[b.typ]++
		if !hasWord(allowed, b.typ) {
			c.addf("%s holds a %s", where, b)
		} else if hasWord(once, b.typ) && count[b.typ] == 2 {
			c.addf("%s holds a second %s", where, b)
		}
	}
	return bs
}

// hasWord reports whether the space-separated list holds w ("url " and
// other names with a space are written with a "_").
func hasWord(list, w string) bool {
	for f := range strings.FieldsSeq(list) {
		if strings.ReplaceAll(f, "_", " ") == w {
			return true
		}
	}
	return false
}

// bmffFile is what the walk of one file gathers for the final checks.
type bmffFile struct {
	mdats   []box
	offsets []uint64          // chunk offsets from stco/co64
	tracks  map[uint32]bool   // track IDs from tkhd
	trex    map[uint32]uint32 // default sample sizes from mvex/trex
}

// bmff checks an ISO BMFF file of the given kind.
func (c *checker) bmff(d []byte, kind bmffKind) {
	top := c.boxes(d, 0, len(d), "file", true)
	if len(top) == 0 || top[0].typ != "ftyp" {
		c.addf("ISO BMFF file does not start with ftyp")
	}
	f := &bmffFile{tracks: map[uint32]bool{}, trex: map[uint32]uint32{}}
	var moofs []box
	allowed := map[bmffKind]string{bmffVideo: "ftyp moov mdat moof", bmffImage: "ftyp meta mdat",
		bmffImageSequence: "ftyp meta moov mdat"}[kind]
	count := map[string]int{}
	for i, b := range top {
		count[b.typ]++
		if b.end == len(d) && i == len(top)-1 && be32(d[b.at:]) == 0 && b.typ != "mdat" {
			c.addf("top-level %s runs to the end of the file (size 0); only mdat may", b)
		}
		if !hasWord(allowed, b.typ) {
			c.addf("top level holds a %s", b)
			continue
		}
		if b.typ != "mdat" && b.typ != "moof" && count[b.typ] == 2 {
			c.addf("top level holds a second %s", b)
			continue
		}
		switch b.typ {
		case "mdat":
			f.mdats = append(f.mdats, b)
		case "moof":
			moofs = append(moofs, b)
		case "moov":
			c.moov(d, b, f, kind)
		}
	}
	if kind != bmffImage && count["moov"] == 0 {
		c.addf("film has no moov box")
	}
	if kind != bmffVideo {
		if count["meta"] != 1 {
			c.addf("HEIF file has %d meta boxes, want one", count["meta"])
		}
		for _, b := range top {
			if b.typ == "meta" {
				c.heifMeta(d, b, f, kind == bmffImage)
			}
		}
	}
	for _, m := range moofs {
		c.fragment(d, m, f)
	}
	for _, off := range f.offsets {
		if !f.inMdat(off, 1) {
			c.addf("chunk offset %d lies outside every mdat", off)
		}
	}
}

// inMdat reports whether [off, off+n) lies in the data of one mdat.
func (f *bmffFile) inMdat(off, n uint64) bool { return inAny(f.mdats, off, n) }

// inAny reports whether [off, off+n) lies inside the payload of one of bs,
// which are in file order (so sorted and apart): a binary search, as a
// hostile file may have many of both.
func inAny(bs []box, off, n uint64) bool {
	i := sort.Search(len(bs), func(i int) bool { return uint64(bs[i].start) > off }) - 1
	return i >= 0 && off+n >= off && off+n <= uint64(bs[i].end)
}

// isoPoint is an ISO 6709 point in decimal degrees, as QuickTime writes it.
var isoPoint = regexp.MustCompile(`^[+-][0-9]{2}(\.[0-9]+)?[+-][0-9]{3}(\.[0-9]+)?([+-][0-9]+(\.[0-9]+)?)?/$`)

// fullBoxSizes are the payload sizes of full boxes with a fixed layout, by
// version, so that no extra bytes can ride along.
var fullBoxSizes = map[string][2]int{
	"mvhd": {100, 112}, "tkhd": {84, 96}, "mdhd": {24, 36}, "mehd": {8, 12},
}

// fixedSize checks a fixed-layout full box's size.
func (c *checker) fixedSize(d []byte, b box) {
	sizes, ok := fullBoxSizes[b.typ]
	if !ok || b.end-b.start < 4 {
		return
	}
	v := int(d[b.start])
	if v > 1 || b.end-b.start != sizes[v] {
		c.addf("%s is %d bytes (version %d), want %d", b, b.end-b.start, v, sizes[min(v, 1)])
	}
}

// moov checks a movie box. With KeepLocation it may hold one udta holding
// one ©xyz: a QuickTime location, an ISO 6709 point and nothing else.
func (c *checker) moov(d []byte, moov box, f *bmffFile, kind bmffKind) {
	allowed := "mvhd trak mvex"
	if c.opt.KeepLocation {
		allowed += " udta"
	}
	for _, b := range c.children(d, moov, moov.start, allowed, "mvhd mvex udta") {
		switch b.typ {
		case "udta":
			for _, x := range c.children(d, b, b.start, "\xa9xyz", "\xa9xyz") {
				p := d[x.start:x.end]
				if len(p) < 4 || int(binary.BigEndian.Uint16(p))+4 != len(p) || !isoPoint.Match(p[4:]) {
					c.addf("%s is not a length, a language and an ISO 6709 point", x)
				}
			}
		case "mvhd":
			c.fixedSize(d, b)
		case "mvex":
			for _, e := range c.children(d, b, b.start, "mehd trex", "mehd") {
				c.fixedSize(d, e)
				if e.typ == "trex" {
					if e.end-e.start != 24 {
						c.addf("%s is %d bytes, want 24", e, e.end-e.start)
						continue
					}
					id := be32(d[e.start+4:])
					if _, dup := f.trex[id]; dup {
						c.addf("%s: a second trex for track %d", e, id)
					}
					f.trex[id] = be32(d[e.start+16:])
				}
			}
		case "trak":
			c.trak(d, b, f, kind)
		}
	}
}

// trak checks a track box.
func (c *checker) trak(d []byte, trak box, f *bmffFile, kind bmffKind) {
	for _, b := range c.children(d, trak, trak.start, "tkhd edts mdia tapt", "tkhd edts mdia tapt") {
		switch b.typ {
		case "tkhd":
			c.fixedSize(d, b)
			if p := d[b.start:b.end]; len(p) == 84 && p[0] == 0 {
				f.tracks[be32(p[12:])] = true
			} else if len(p) == 96 && p[0] == 1 {
				f.tracks[be32(p[20:])] = true
			}
		case "edts":
			c.children(d, b, b.start, "elst", "elst")
		case "tapt":
			c.children(d, b, b.start, "clef prof enof", "clef prof enof")
		case "mdia":
			c.mdia(d, b, f, kind)
		}
	}
}

// mdia checks a media box.
func (c *checker) mdia(d []byte, mdia box, f *bmffFile, kind bmffKind) {
	handler := ""
	bs := c.children(d, mdia, mdia.start, "mdhd hdlr minf", "mdhd hdlr minf")
	for _, b := range bs {
		switch b.typ {
		case "mdhd":
			c.fixedSize(d, b)
		case "hdlr":
			handler = c.hdlr(d, b)
			ok := handler == "vide" || handler == "soun" || (handler == "pict" && kind == bmffImageSequence)
			if !ok {
				c.addf("%s names handler %q: only video and sound tracks are kept", b, handler)
			}
		}
	}
	for _, b := range bs {
		if b.typ == "minf" {
			c.minf(d, b, f, handler)
		}
	}
}

// hdlr checks a handler box's name is empty and returns its handler type.
func (c *checker) hdlr(d []byte, b box) string {
	p := d[b.start:b.end]
	if len(p) < 24 {
		c.addf("%s is cut short", b)
		return ""
	}
	// QuickTime writes the name as a Pascal string: a zero length byte.
	if name := p[24:]; len(name) > 1 || !allZero(name) {
		c.addf("%s has a name (%.40q)", b, name)
	}
	return string(p[8:12])
}

// minf checks a media information box.
func (c *checker) minf(d []byte, minf box, f *bmffFile, handler string) {
	header := map[string]string{"vide": "vmhd", "soun": "smhd", "pict": "vmhd"}[handler]
	for _, b := range c.children(d, minf, minf.start, "vmhd smhd dinf stbl hdlr", "vmhd smhd dinf stbl hdlr") {
		switch b.typ {
		case "vmhd", "smhd":
			if b.typ != header {
				c.addf("%s in a %q track", b, handler)
			}
		case "hdlr":
			if t := c.hdlr(d, b); t != "alis" && t != "url " {
				c.addf("%s names data handler %q", b, t)
			}
		case "dinf":
			c.dinf(d, b)
		case "stbl":
			c.stbl(d, b, f, handler)
		}
	}
}

// dinf checks a data information box: one dref whose entries say "in this
// file" and name no other.
func (c *checker) dinf(d []byte, dinf box) {
	for _, b := range c.children(d, dinf, dinf.start, "dref", "dref") {
		if b.end-b.start < 8 {
			c.addf("%s is cut short", b)
			continue
		}
		for _, e := range c.children(d, b, b.start+8, "url_ alis", "") {
			if e.end-e.start != 4 || d[e.start+3]&1 == 0 {
				c.addf("%s is not a self-contained entry without a location", e)
			}
		}
	}
}

// stbl checks a sample table box and gathers its chunk offsets.
func (c *checker) stbl(d []byte, stbl box, f *bmffFile, handler string) {
	all := "stsd stts ctts cslg stss stps sdtp stsc stsz stz2 stco co64 sgpd sbgp"
	for _, b := range c.children(d, stbl, stbl.start, all, "stsd stts ctts cslg stss stps sdtp stsc stsz stz2 stco co64") {
		p := d[b.start:b.end]
		switch b.typ {
		case "stsd":
			if len(p) < 8 {
				c.addf("%s is cut short", b)
				continue
			}
			for _, e := range c.boxes(d, b.start+8, b.end, b.String(), false) {
				c.sampleEntry(d, e, handler)
			}
		case "stco", "co64":
			w := map[string]int{"stco": 4, "co64": 8}[b.typ]
			if len(p) < 8 {
				c.addf("%s is cut short", b)
				continue
			}
			n := uint64(be32(p[4:]))
			if uint64(len(p)-8) != n*uint64(w) {
				c.addf("%s holds %d bytes for %d offsets", b, len(p)-8, n)
				continue
			}
			for i := range int(n) {
				if !c.step() {
					return
				}
				if w == 4 {
					f.offsets = append(f.offsets, uint64(be32(p[8+4*i:])))
				} else {
					f.offsets = append(f.offsets, be64(p[8+8*i:]))
				}
			}
		}
	}
}

// Sample entry types by handler, and the boxes a sample entry may hold.
const (
	videoEntries = "avc1 avc3 hvc1 hev1 vp08 vp09 av01 mp4v jpeg mjpa mjpb apch apcn apcs apco ap4h ap4x s263 h263 dvh1 dvhe"
	audioEntries = "mp4a Opus ac-3 ec-3 alac fLaC lpcm sowt twos ipcm fpcm samr sawb .mp3 ulaw alaw raw_ in24 in32 fl32 fl64"
	entryBoxes   = "avcC hvcC vpcC av1C esds d263 damr glbl dvcC dvvC dOps dac3 dec3 alac dfLa pasp colr btrt clap fiel gama mdcv clli chan wave"
)

// sampleEntry checks one sample description.
func (c *checker) sampleEntry(d []byte, e box, handler string) {
	var header int
	switch {
	case (handler == "vide" || handler == "pict") && hasWord(videoEntries, e.typ):
		header = 78
		if e.end-e.start >= header && !allZero(d[e.start+42:e.start+74]) {
			c.addf("%s has a compressor name %q", e, d[e.start+43:e.start+43+min(31, int(d[e.start+42]))])
		}
	case handler == "soun" && hasWord(audioEntries, e.typ):
		header = 28
		if e.end-e.start >= 10 {
			switch be16(d[e.start+8:]) { // QuickTime sound description version
			case 1:
				header += 16
			case 2:
				header += 36
			}
		}
	default:
		c.addf("%s: sample entry type not allowed in a %q track", e, handler)
		return
	}
	if e.end-e.start < header {
		c.addf("%s is cut short", e)
		return
	}
	for _, b := range c.children(d, e, e.start+header, entryBoxes, entryBoxes) {
		if b.typ == "wave" {
			// The QuickTime terminator is a box of 8 zero bytes.
			for _, w := range c.boxes(d, b.start, b.end, b.String(), false) {
				if !hasWord("frma esds enda mp4a", w.typ) && w.typ != "\x00\x00\x00\x00" {
					c.addf("%s holds a %s", b, w)
				}
			}
		}
	}
}
