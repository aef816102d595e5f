package ingest

import (
	"encoding/binary"
	"errors"
	"math"
	"regexp"
	"slices"
	"time"
)

// A rebuilt MP4, 3GP or QuickTime movie is:
//   - ftyp as the upload had it (none for legacy QuickTime without one);
//   - moov written anew: mvhd (its creation time is the capture time, kept
//     on purpose) and one trak per video or audio track, each holding only
//     tkhd (its matrix is the orientation), tapt, edts/elst and
//     mdia{mdhd, hdlr with an empty name, minf{vmhd or smhd, dinf naming
//     the file itself, stbl}}; the sample table keeps its timing, sync and
//     size tables as they are, its sample descriptions with an allowlist of
//     codec boxes, and its chunk offsets rewritten for the new layout;
//   - every mdat box, in its original order relative to moov (a faststart
//     file stays faststart), its bytes copied from the upload except those
//     no kept track refers to, which are written as zeros: the samples of
//     dropped tracks (GoPro gpmd, camm, Apple mebx, subtitles, timecode)
//     and whatever else sits between samples.
//
// With Options.KeepLocation, moov/udta/©xyz is kept too, written anew from
// its ISO 6709 text (nothing else of udta).
//
// Everything else is dropped: udta (©xyz, loci, XMP_), meta (Apple mdta
// keys such as com.apple.quicktime.location.ISO6709), uuid boxes (XMP),
// free, skip, wide, iods, tref, unknown boxes at any level, timed metadata,
// text and hint tracks, and bytes after the last box.
//
// A fragmented MP4 keeps mvex in moov (mehd, trex of the kept tracks) and
// every moof, rebuilt (see rebuild_fragment.go), in place before its mdat;
// its indexes (sidx, ssix, mfra), styp, emsg and prft are dropped.
// Encrypted media (encv, enca sample descriptions, senc) is refused: its
// protection boxes are not kept, so it would not play.

// rebuildMovie plans the rebuilt movie.
func rebuildMovie(s *source, out *builder, info *Info, opt Options) error {
	var (
		ftyp  []byte
		moov  *bmffBox
		parts []movPart // moov, the moof and mdat boxes, in file order
		mdats []movMdat
		moofs []bmffBox
	)
top:
	for off := int64(0); off < s.size; {
		if s.size-off < 8 {
			break // a few bytes after the last box: no box, dropped
		}
		b, err := readBMFFBox(s, off, s.size)
		if err != nil {
			if s.items > maxItems || !errors.Is(err, ErrMalformed) {
				return err
			}
			break // bytes after the last box that do not make one: dropped
		}
		if b.end > s.size {
			switch b.typ {
			case "mdat":
				// A recording cut short, or a download that lost its end:
				// the mdat claims more than is there. Its samples past the
				// end are lost either way; the rest plays. The header is
				// kept as declared (offsets past the end stay consistently
				// past the end, and the rebuild of the rebuilt file is the
				// same file), and only the bytes present are copied.
				parts = append(parts, movPart{mdat: len(mdats)})
				mdats = append(mdats, movMdat{box: b, present: s.size})
				break top
			case "moov":
				return malformed("the movie box (moov) runs past the end of the file")
			}
			// Any other box cut short holds nothing kept: like bytes after
			// the last box, it is dropped.
			break top
		}
		switch b.typ {
		case "ftyp":
			if ftyp == nil {
				p, err := s.load(b.data, min(b.end-b.data, 1024))
				if err != nil {
					return err
				}
				if len(p) < 8 {
					return malformed("ftyp box too short")
				}
				ftyp = p[:len(p)&^3] // brands are 4 bytes each
			}
		case "moov":
			// A second moov is a duplicate container: the first is the
			// one players read (ffmpeg skips the others), so the others
			// are dropped.
			if moov == nil {
				moov = &b
				parts = append(parts, movPart{mdat: -1})
			}
		case "moof":
			// A fragment's samples are read with the tracks' defaults.
			if moov == nil {
				return malformed("a movie fragment (moof) before the movie box (moov)")
			}
			if len(moofs) >= 1<<16 {
				return malformed("too many movie fragments")
			}
			parts = append(parts, movPart{mdat: -1, moof: len(moofs) + 1})
			moofs = append(moofs, b)
		case "mdat":
			parts = append(parts, movPart{mdat: len(mdats)})
			mdats = append(mdats, movMdat{box: b, present: b.end})
		}
		off = b.end
	}
	if moov == nil {
		return malformed("no movie box (moov)")
	}
	// QuickTime files (no ftyp, or the 'qt  ' brand) lay sound
	// descriptions out their own way.
	p := &movParser{s: s, qt: ftyp == nil, keepLocation: opt.KeepLocation}
	for i := 0; i+4 <= len(ftyp); i += 4 {
		if i != 4 && string(ftyp[i:i+4]) == "qt  " { // major, minor version, compatible
			p.qt = true
		}
	}
	mv, err := p.moov(*moov)
	if err != nil {
		return err
	}
	info.TakenTime = p.taken
	if p.twoIDs && len(moofs) > 0 {
		return malformed("a fragmented movie with two tracks of one ID")
	}
	frags := make([]*movFrag, len(moofs))
	for i, b := range moofs {
		if frags[i], err = p.moof(b); err != nil {
			return err
		}
	}

	// Every chunk and every run of a kept fragment lies inside an mdat:
	// find which.
	keep := make([][][2]int64, len(mdats)) // per mdat, the ranges kept
	inMdat := func(off, end int64, what string) (int, error) {
		k, ok := slices.BinarySearchFunc(mdats, off, func(m movMdat, off int64) int {
			switch {
			case m.box.end <= off:
				return -1
			case m.box.start > off:
				return 1
			}
			return 0
		})
		if !ok || off < mdats[k].box.data {
			return 0, malformed("a %s at byte %d lies outside the media data (mdat)", what, off)
		}
		if end > mdats[k].box.end {
			return 0, malformed("a %s at byte %d runs past its media data box (mdat)", what, off)
		}
		if from, to := off, min(end, mdats[k].present); to > from {
			keep[k] = append(keep[k], [2]int64{from, to})
		}
		return k, nil
	}
	for _, c := range p.chunks {
		c.mdat = make([]int, len(c.offs))
		for i, off := range c.offs {
			if c.mdat[i], err = inMdat(off, c.ends[i], "chunk"); err != nil {
				return err
			}
		}
	}
	for _, f := range frags {
		for _, t := range f.trafs {
			for _, r := range t.runs {
				if r.to == r.from {
					continue // no bytes: written relative to its base
				}
				if r.mdat, err = inMdat(r.from, r.to, "track run"); err != nil {
					return err
				}
			}
		}
	}

	// Lay the file out; a chunk offset table that no longer fits 32 bits
	// becomes co64, which grows moov and moves what follows: lay out again.
	var moovBytes []byte
	for {
		pos := int64(len(ftyp))
		if ftyp != nil {
			pos += 8
		}
		starts := make([]int64, len(mdats))
		for _, pt := range parts {
			if pt.moof > 0 {
				frags[pt.moof-1].start = pos
				pos += frags[pt.moof-1].out.size()
			} else if pt.mdat < 0 {
				pos += mv.size()
			} else {
				m := mdats[pt.mdat]
				starts[pt.mdat] = pos
				pos += m.present - m.box.start
			}
		}
		grew := false
		for _, c := range p.chunks {
			c.out = make([]uint64, len(c.offs))
			for i, off := range c.offs {
				m := mdats[c.mdat[i]]
				c.out[i] = uint64(off - m.box.start + starts[c.mdat[i]])
				if c.out[i] > math.MaxUint32 && !c.wide {
					c.wide, grew = true, true
				}
			}
		}
		if !grew {
			moovBytes = mv.appendTo(nil)
			for _, f := range frags {
				if err := f.fragOffsets(mdats, starts); err != nil {
					return err
				}
			}
			break
		}
	}

	if ftyp != nil {
		out.bytes(append(bmffHeader("ftyp", int64(len(ftyp))), ftyp...))
	}
	for _, pt := range parts {
		if pt.moof > 0 {
			out.bytes(frags[pt.moof-1].out.appendTo(nil))
			continue
		}
		if pt.mdat < 0 {
			out.bytes(moovBytes)
			continue
		}
		m := mdats[pt.mdat]
		out.copy(m.box.start, m.box.data-m.box.start)
		at := m.box.data
		for _, r := range movMerge(keep[pt.mdat]) {
			out.zeros(r[0] - at)
			out.copy(r[0], r[1]-r[0])
			at = r[1]
		}
		out.zeros(m.present - at)
	}
	return nil
}

// movPart is, in file order, the mdat of that index, or the moof of index
// moof-1 when moof > 0, or moov.
type movPart struct{ mdat, moof int }

// movMdat is an mdat box of the upload; present is where its bytes end in
// the upload, before the declared end when the file was cut short.
type movMdat struct {
	box     bmffBox
	present int64
}

// movMerge sorts ranges and merges those that overlap or touch.
func movMerge(rs [][2]int64) [][2]int64 {
	slices.SortFunc(rs, func(a, b [2]int64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	var out [][2]int64
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// movBox is one box of the rebuilt movie header: data, then kids; a chunk
// offset table is written from co instead.
type movBox struct {
	typ  string
	data []byte
	kids []*movBox
	co   *movChunks
}

// movChunks is the chunk offset table of a kept track.
type movChunks struct {
	offs []int64  // where each chunk starts in the upload
	ends []int64  // where its samples end
	mdat []int    // the mdat holding it
	out  []uint64 // where it starts in the rebuilt file
	wide bool     // written as co64
}

// payload is the size of the box without its header.
func (b *movBox) payload() int64 {
	n := int64(len(b.data))
	for _, k := range b.kids {
		n += k.size()
	}
	if b.co != nil {
		w := int64(4)
		if b.co.wide {
			w = 8
		}
		n += 8 + w*int64(len(b.co.offs))
	}
	return n
}

func (b *movBox) size() int64 {
	n := b.payload()
	if n+8 > math.MaxUint32 {
		return n + 16
	}
	return n + 8
}

// appendTo appends the box to p.
func (b *movBox) appendTo(p []byte) []byte {
	typ := b.typ
	if b.co != nil && b.co.wide {
		typ = "co64"
	}
	p = append(p, bmffHeader(typ, b.payload())...)
	p = append(p, b.data...)
	for _, k := range b.kids {
		p = k.appendTo(p)
	}
	if c := b.co; c != nil {
		p = binary.BigEndian.AppendUint32(p, 0) // version, flags
		p = binary.BigEndian.AppendUint32(p, uint32(len(c.out)))
		for _, o := range c.out {
			if c.wide {
				p = binary.BigEndian.AppendUint64(p, o)
			} else {
				p = binary.BigEndian.AppendUint32(p, uint32(o))
			}
		}
	}
	return p
}

// movParser walks moov and builds the rebuilt one.
type movParser struct {
	s            *source
	qt           bool // QuickTime sample description layouts
	keepLocation bool // Options.KeepLocation: keep moov/udta/©xyz
	taken        time.Time
	chunks       []*movChunks // of the kept tracks

	// Fragmented movies: the kept tracks by ID in trak order, and what
	// mvex holds for every track.
	kept     map[uint32]bool
	twoIDs   bool // two kept tracks share an ID
	trackIDs []uint32
	mehd     *movBox
	trex     map[uint32]*movBox // nil without mvex
	trexSize map[uint32]uint32  // default sample sizes
}

// load reads the payload of b, at most limit bytes of it.
func (p *movParser) load(b bmffBox, limit int64) ([]byte, error) {
	return p.s.load(b.data, min(b.end-b.data, limit))
}

// fullBox reads a full box of fixed size (v0 bytes for version 0, v1 for
// version 1), dropping anything after.
func (p *movParser) fullBox(b bmffBox, v0, v1 int) ([]byte, error) {
	d, err := p.load(b, int64(max(v0, v1)))
	if err != nil {
		return nil, err
	}
	if len(d) < 4 || d[0] > 1 || (d[0] == 1 && v1 == 0) {
		return nil, malformed("%q box with an unknown version", b.typ)
	}
	want := v0
	if d[0] == 1 {
		want = v1
	}
	if len(d) < want {
		return nil, malformed("%q box too short", b.typ)
	}
	return d[:want], nil
}

// table reads a full box holding a 32-bit entry count at byte at, then the
// entries of n bytes each, and returns it cut to them.
func (p *movParser) table(b bmffBox, at, n int64) ([]byte, uint32, error) {
	d, err := p.load(b, b.end-b.data)
	if err != nil {
		return nil, 0, err
	}
	if int64(len(d)) < at+4 {
		return nil, 0, malformed("%q box too short", b.typ)
	}
	count := binary.BigEndian.Uint32(d[at:])
	if need := at + 4 + int64(count)*n; int64(len(d)) < need {
		return nil, 0, malformed("%q box lists %d entries it does not hold", b.typ, count)
	} else {
		d = d[:need]
	}
	return d, count, nil
}

// once refuses a second box of a type that a reader expects once.
func once(seen map[string]bool, b bmffBox) error {
	if seen[b.typ] {
		return malformed("two %q boxes in one parent", b.typ)
	}
	seen[b.typ] = true
	return nil
}

// moov rebuilds the movie box.
func (p *movParser) moov(m bmffBox) (*movBox, error) {
	var mvhd, place *movBox
	var traks []*movBox
	err := bmffBoxes(p.s, m.data, m.end, func(b bmffBox) error {
		switch b.typ {
		case "udta":
			if p.keepLocation && place == nil {
				var err error
				place, err = p.place(b)
				return err
			}
		case "mvhd":
			if mvhd != nil {
				return malformed("two movie headers (mvhd)")
			}
			d, err := p.fullBox(b, 100, 112)
			if err != nil {
				return err
			}
			mvhd = &movBox{typ: "mvhd", data: d}
			p.taken = movieCreation(d)
		case "trak":
			t, err := p.trak(b)
			if t != nil {
				traks = append(traks, t)
			}
			return err
		case "mvex":
			return p.mvex(b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if mvhd == nil {
		return nil, malformed("no movie header (mvhd)")
	}
	if len(traks) == 0 {
		return nil, malformed("no video or audio track")
	}
	kids := append([]*movBox{mvhd}, traks...)
	if mvex := p.keptMvex(); mvex != nil {
		kids = append(kids, mvex)
	}
	if place != nil {
		kids = append(kids, place)
	}
	return &movBox{typ: "moov", kids: kids}, nil
}

// iso6709Point is the form of a QuickTime location: latitude, longitude and an
// optional altitude, in decimal degrees, ending with a slash.
var iso6709Point = regexp.MustCompile(`^[+-][0-9]{2}(\.[0-9]{1,10})?[+-][0-9]{3}(\.[0-9]{1,10})?([+-][0-9]{1,5}(\.[0-9]{1,10})?)?/$`)

// place returns, with Options.KeepLocation, a new udta holding only the
// movie's QuickTime location (©xyz), written anew from its ISO 6709 text
// when that text is a well-formed position; nil when there is none.
func (p *movParser) place(udta bmffBox) (*movBox, error) {
	var kept *movBox
	err := bmffBoxes(p.s, udta.data, udta.end, func(b bmffBox) error {
		if b.typ != "\xa9xyz" || kept != nil {
			return nil
		}
		d, err := p.load(b, 64)
		if err != nil || len(d) < 4 {
			return err
		}
		n := int(binary.BigEndian.Uint16(d))
		if 4+n > len(d) || !iso6709Point.Match(d[4:4+n]) {
			return nil
		}
		text := append([]byte(nil), d[4:4+n]...)
		data := binary.BigEndian.AppendUint16(nil, uint16(len(text)))
		data = append(binary.BigEndian.AppendUint16(data, 0x15C7), text...) // language: undetermined
		kept = &movBox{typ: "udta", kids: []*movBox{{typ: "\xa9xyz", data: data}}}
		return nil
	})
	return kept, err
}

// movieEpoch is where ISO and QuickTime movie times count from.
var movieEpoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)

// movieCreation reads the creation time of an mvhd payload (seconds since
// 1904 in UTC; 0 when the writer did not say).
func movieCreation(d []byte) time.Time {
	var secs uint64
	if d[0] == 0 {
		secs = uint64(binary.BigEndian.Uint32(d[4:8]))
	} else {
		secs = binary.BigEndian.Uint64(d[4:12])
	}
	// Beyond year 2200 is a broken header, not a date.
	if secs > 0 && secs < uint64(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Sub(movieEpoch)/time.Second) {
		return movieEpoch.Add(time.Duration(secs) * time.Second)
	}
	return time.Time{}
}

// handler returns the media handler type of a track (mdia/hdlr), "" when
// it has none.
func (p *movParser) handler(t bmffBox) (string, error) {
	var h string
	err := bmffBoxes(p.s, t.data, t.end, func(b bmffBox) error {
		if b.typ != "mdia" {
			return nil
		}
		return bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
			if c.typ != "hdlr" || h != "" {
				return nil
			}
			d, err := p.load(c, 12)
			if err != nil {
				return err
			}
			if len(d) < 12 {
				return malformed("hdlr box too short")
			}
			h = string(d[8:12])
			return nil
		})
	})
	return h, err
}

// trak rebuilds a video or audio track; other tracks yield nil and are
// dropped (their samples are then no kept track's, and written as zeros).
func (p *movParser) trak(t bmffBox) (*movBox, error) {
	handler, err := p.handler(t)
	if err != nil || (handler != "vide" && handler != "soun") {
		return nil, err
	}
	var tkhd, tapt, edts, mdia *movBox
	seen := map[string]bool{}
	err = bmffBoxes(p.s, t.data, t.end, func(b bmffBox) error {
		switch b.typ {
		case "tkhd", "tapt", "edts", "mdia":
			if err := once(seen, b); err != nil {
				return err
			}
		}
		var err error
		switch b.typ {
		case "tkhd":
			var d []byte
			d, err = p.fullBox(b, 84, 96)
			tkhd = &movBox{typ: "tkhd", data: d}
		case "tapt":
			tapt, err = p.tapt(b)
		case "edts":
			edts, err = p.edts(b)
		case "mdia":
			mdia, err = p.mdia(b, handler)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if tkhd == nil || mdia == nil {
		return nil, malformed("a track without its header (tkhd) or media (mdia)")
	}
	// Fragments name their track by this ID.
	id := binary.BigEndian.Uint32(tkhd.data[12:16])
	if tkhd.data[0] == 1 {
		id = binary.BigEndian.Uint32(tkhd.data[20:24])
	}
	if p.kept[id] {
		p.twoIDs = true // fragments could not say which they are for
	}
	if p.kept == nil {
		p.kept = map[uint32]bool{}
	}
	p.kept[id] = true
	p.trackIDs = append(p.trackIDs, id)
	trak := &movBox{typ: "trak", kids: []*movBox{tkhd}}
	for _, k := range []*movBox{tapt, edts, mdia} {
		if k != nil {
			trak.kids = append(trak.kids, k)
		}
	}
	return trak, nil
}

// tapt keeps QuickTime's track aperture dimensions (clean, production,
// encoded pixels), each a full box of two fixed-point numbers.
func (p *movParser) tapt(b bmffBox) (*movBox, error) {
	out := &movBox{typ: "tapt"}
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		switch c.typ {
		case "clef", "prof", "enof":
			d, err := p.fullBox(c, 12, 0)
			if err != nil {
				return err
			}
			out.kids = append(out.kids, &movBox{typ: c.typ, data: d})
		}
		return nil
	})
	if err != nil || len(out.kids) == 0 {
		return nil, err
	}
	return out, nil
}

// edts keeps the edit list.
func (p *movParser) edts(b bmffBox) (*movBox, error) {
	var elst *movBox
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		if c.typ != "elst" || elst != nil {
			return nil
		}
		d, err := p.load(c, 4)
		if err != nil {
			return err
		}
		if len(d) < 4 || d[0] > 1 {
			return malformed("elst box with an unknown version")
		}
		d, _, err = p.table(c, 4, 12+8*int64(d[0]))
		elst = &movBox{typ: "elst", data: d}
		return err
	})
	if err != nil || elst == nil {
		return nil, err
	}
	return &movBox{typ: "edts", kids: []*movBox{elst}}, nil
}

// mdia rebuilds the media box: mdhd, hdlr, minf.
func (p *movParser) mdia(b bmffBox, handler string) (*movBox, error) {
	var mdhd, hdlr, minf *movBox
	seen := map[string]bool{}
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		var err error
		switch c.typ {
		case "mdhd", "hdlr", "minf":
			if err := once(seen, c); err != nil {
				return err
			}
		}
		switch c.typ {
		case "mdhd":
			var d []byte
			d, err = p.fullBox(c, 24, 36)
			mdhd = &movBox{typ: "mdhd", data: d}
		case "hdlr":
			hdlr, err = p.hdlr(c)
		case "minf":
			minf, err = p.minf(c, handler)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if mdhd == nil || hdlr == nil || minf == nil {
		return nil, malformed("a track's media box lacks mdhd, hdlr or minf")
	}
	return &movBox{typ: "mdia", kids: []*movBox{mdhd, hdlr, minf}}, nil
}

// hdlr rebuilds a handler box: its QuickTime component type (mhlr, dhlr),
// its handler type, and an empty name (the name is free text). An empty
// name is one zero byte both as ISO's C string and QuickTime's Pascal
// string.
func (p *movParser) hdlr(b bmffBox) (*movBox, error) {
	d, err := p.load(b, 12)
	if err != nil {
		return nil, err
	}
	if len(d) < 12 {
		return nil, malformed("hdlr box too short")
	}
	out := make([]byte, 25)
	if c := string(d[4:8]); c == "mhlr" || c == "dhlr" {
		copy(out[4:8], c)
	}
	copy(out[8:12], d[8:12])
	return &movBox{typ: "hdlr", data: out}, nil
}

// minf rebuilds the media information: the media header, QuickTime's data
// handler, a data reference to the file itself, the sample table.
func (p *movParser) minf(b bmffBox, handler string) (*movBox, error) {
	var mhd, hdlr, stbl *movBox
	ref := "url "
	seen := map[string]bool{}
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		switch c.typ {
		case "vmhd", "smhd", "hdlr", "dinf", "stbl":
			if err := once(seen, c); err != nil {
				return err
			}
		}
		var err error
		switch {
		case c.typ == "vmhd" && handler == "vide":
			var d []byte
			d, err = p.fullBox(c, 12, 0)
			mhd = &movBox{typ: "vmhd", data: d}
		case c.typ == "smhd" && handler == "soun":
			var d []byte
			d, err = p.fullBox(c, 8, 0)
			mhd = &movBox{typ: "smhd", data: d}
		case c.typ == "hdlr" && p.qt:
			hdlr, err = p.hdlr(c)
		case c.typ == "dinf":
			ref, err = p.dinf(c)
		case c.typ == "stbl":
			stbl, err = p.stbl(c, handler)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if stbl == nil {
		return nil, malformed("a track without a sample table (stbl)")
	}
	out := &movBox{typ: "minf"}
	if hdlr != nil {
		copy(hdlr.data[4:12], "dhlr"+ref) // QuickTime's data handler names the reference type
	}
	for _, k := range []*movBox{mhd, hdlr} {
		if k != nil {
			out.kids = append(out.kids, k)
		}
	}
	// The data reference, written anew: the media is in this file. Apple
	// writes a self-referencing alias, others a URL; both mean "here".
	url := &movBox{typ: ref, data: []byte{0, 0, 0, 1}}
	dref := &movBox{typ: "dref", data: []byte{0, 0, 0, 0, 0, 0, 0, 1}, kids: []*movBox{url}}
	out.kids = append(out.kids, &movBox{typ: "dinf", kids: []*movBox{dref}}, stbl)
	return out, nil
}

// dinf refuses media whose data lies in another file: every data reference
// must be to the file itself (flag 1). It returns the type of reference to
// write: a QuickTime alias ('alis') when the first was one, else a URL.
func (p *movParser) dinf(b bmffBox) (string, error) {
	ref := "url "
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		if c.typ != "dref" {
			return nil
		}
		if c.end-c.data < 8 {
			return malformed("dref box too short")
		}
		n := 0
		return bmffBoxes(p.s, c.data+8, c.end, func(e bmffBox) error {
			if n++; n > 64 {
				return malformed("too many data references")
			}
			d, err := p.load(e, 4)
			if err != nil {
				return err
			}
			if len(d) < 4 || d[3]&1 == 0 {
				return malformed("media data in another file (a %q data reference)", e.typ)
			}
			if n == 1 && e.typ == "alis" {
				ref = "alis"
			}
			return nil
		})
	})
	return ref, err
}

// movGroupings are the sample groups kept (sgpd/sbgp grouping types): roll
// and pre-roll distances, random access points, temporal layers; all small
// numbers a decoder or seeker uses.
var movGroupings = map[string]bool{
	"roll": true, "prol": true, "rap ": true, "sync": true, "tele": true, "alst": true,
	"tscl": true, "sap ": true,
}

// stbl rebuilds the sample table and records the chunks of the track.
func (p *movParser) stbl(b bmffBox, handler string) (*movBox, error) {
	var (
		stsd   *movBox
		tables = map[string]*movBox{}
		groups []*movBox
		sz     movSizes
		offs   []int64
	)
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		kind := c.typ
		switch c.typ {
		case "stsz", "stz2":
			kind = "stsz" // one or the other
		case "stco", "co64":
			kind = "stco"
		}
		if tables[kind] != nil {
			return malformed("two %q boxes in one sample table", kind)
		}
		var d []byte
		var err error
		switch c.typ {
		case "stsd":
			if stsd != nil {
				return malformed("two sample descriptions (stsd) in one track")
			}
			stsd, err = p.stsd(c, handler)
			return err
		case "stts", "ctts":
			d, _, err = p.table(c, 4, 8)
		case "stss", "stps":
			d, _, err = p.table(c, 4, 4)
		case "cslg":
			d, err = p.fullBox(c, 24, 44)
		case "stsc":
			d, _, err = p.table(c, 4, 12)
		case "sdtp":
			d, err = p.load(c, c.end-c.data)
			if err == nil && len(d) < 4 {
				err = malformed("sdtp box too short")
			}
		case "stsz", "stz2":
			if sz, err = p.sizes(c); err != nil {
				return err
			}
			d = sz.box
		case "stco", "co64":
			if offs, err = p.offsets(c); err != nil {
				return err
			}
			d = []byte{} // written from the offsets
		case "sgpd", "sbgp":
			g, err := p.group(c)
			if g != nil {
				groups = append(groups, g)
			}
			return err
		default:
			return nil
		}
		if err != nil {
			return err
		}
		tables[kind] = &movBox{typ: c.typ, data: d}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if stsd == nil || tables["stts"] == nil || tables["stsc"] == nil || tables["stsz"] == nil || tables["stco"] == nil {
		return nil, malformed("a %q track's sample table lacks stsd, stts, stsc, stsz or stco", handler)
	}
	ends, err := movChunkEnds(offs, tables["stsc"].data, sz)
	if err != nil {
		return nil, err
	}
	co := &movChunks{offs: offs, ends: ends}
	p.chunks = append(p.chunks, co)
	tables["stco"] = &movBox{typ: "stco", co: co}
	if t := tables["sdtp"]; t != nil && int64(len(t.data)) > 4+int64(sz.count) {
		t.data = t.data[:4+int64(sz.count)] // one byte per sample
	}
	out := &movBox{typ: "stbl", kids: []*movBox{stsd}}
	for _, k := range []string{"stts", "ctts", "cslg", "stss", "stps", "sdtp", "stsc", "stsz", "stco"} {
		if t := tables[k]; t != nil {
			out.kids = append(out.kids, t)
		}
	}
	out.kids = append(out.kids, groups...)
	return out, nil
}

// movSizes is a track's sample sizes: a constant, or a table of field-bit
// entries after the 12 bytes of an stsz or stz2 payload in box.
type movSizes struct {
	box      []byte
	field    int
	constant uint64
	count    uint32
}

// at is the size of sample i.
func (z movSizes) at(i uint64) uint64 {
	switch z.field {
	case 4:
		b := z.box[12+i/2]
		if i%2 == 0 {
			return uint64(b >> 4)
		}
		return uint64(b & 15)
	case 8:
		return uint64(z.box[12+i])
	case 16:
		return uint64(binary.BigEndian.Uint16(z.box[12+2*i:]))
	}
	return uint64(binary.BigEndian.Uint32(z.box[12+4*i:]))
}

// sizes reads a sample size table (stsz or stz2), cut to its entries.
func (p *movParser) sizes(c bmffBox) (movSizes, error) {
	d, err := p.load(c, 12)
	if err != nil {
		return movSizes{}, err
	}
	if len(d) < 12 {
		return movSizes{}, malformed("%q box too short", c.typ)
	}
	z := movSizes{field: 32, count: binary.BigEndian.Uint32(d[8:12])}
	if c.typ == "stsz" {
		if z.constant = uint64(binary.BigEndian.Uint32(d[4:8])); z.constant != 0 {
			z.box = d
			return z, nil
		}
	} else if z.field = int(d[7]); z.field != 4 && z.field != 8 && z.field != 16 {
		return movSizes{}, malformed("stz2 box with %d-bit sizes", z.field)
	}
	need := 12 + (int64(z.count)*int64(z.field)+7)/8
	if c.end-c.data < need {
		return movSizes{}, malformed("%q box lists %d sizes it does not hold", c.typ, z.count)
	}
	z.box, err = p.s.load(c.data, need)
	return z, err
}

// offsets reads a chunk offset table (stco or co64).
func (p *movParser) offsets(c bmffBox) ([]int64, error) {
	w := 4
	if c.typ == "co64" {
		w = 8
	}
	d, n, err := p.table(c, 4, int64(w))
	if err != nil {
		return nil, err
	}
	offs := make([]int64, n)
	for i := range offs {
		var o uint64
		if w == 4 {
			o = uint64(binary.BigEndian.Uint32(d[8+4*i:]))
		} else {
			o = binary.BigEndian.Uint64(d[8+8*i:])
		}
		if o > math.MaxInt64 {
			return nil, malformed("chunk offset %d out of range", o)
		}
		offs[i] = int64(o)
	}
	return offs, nil
}

// movChunkEnds finds where each chunk's samples end, from the sample to
// chunk table (stsc) and the sample sizes.
func movChunkEnds(offs []int64, stsc []byte, sz movSizes) ([]int64, error) {
	type run struct{ first, per uint64 }
	runs := make([]run, 0, (len(stsc)-8)/12)
	for e := stsc[8:]; len(e) >= 12; e = e[12:] {
		r := run{uint64(binary.BigEndian.Uint32(e)), uint64(binary.BigEndian.Uint32(e[4:]))}
		if r.first == 0 || len(runs) > 0 && r.first <= runs[len(runs)-1].first {
			return nil, malformed("stsc box with chunk numbers out of order")
		}
		runs = append(runs, r)
	}
	ends := make([]int64, len(offs))
	var sample uint64
	r := -1
	for c := range offs {
		chunk := uint64(c) + 1
		for r+1 < len(runs) && runs[r+1].first <= chunk {
			r++
		}
		var n uint64
		if r >= 0 {
			n = min(runs[r].per, uint64(sz.count)-sample)
		}
		var bytes uint64
		if sz.constant != 0 {
			bytes = n * sz.constant
		} else {
			for i := sample; i < sample+n; i++ {
				bytes += sz.at(i)
			}
		}
		sample += n
		if bytes > uint64(math.MaxInt64-offs[c]) {
			return nil, malformed("a chunk at byte %d larger than any file", offs[c])
		}
		ends[c] = offs[c] + int64(bytes)
	}
	return ends, nil
}

// Sample description children kept, and the payload size of those of a
// fixed size (what follows is dropped). Variable ones are codec
// configurations, copied as they are.
var (
	movVisualKids = map[string]int{
		"avcC": -1, "hvcC": -1, "vpcC": -1, "av1C": -1, "esds": -1, "d263": -1, "glbl": -1,
		"dvcC": -1, "dvvC": -1,
		"pasp": 8, "btrt": 12, "clap": 32, "fiel": 2, "gama": 4, "mdcv": 24, "clli": 4,
		"colr": -1, // by colour type, see sampleKid
	}
	movAudioKids = map[string]int{
		"esds": -1, "dOps": -1, "dac3": -1, "dec3": -1, "alac": -1, "dfLa": -1, "damr": -1, "chan": -1,
		"btrt": 12,
		"wave": -1, // QuickTime's decompression parameters, see wave
	}
)

// stsd rebuilds the sample descriptions: each entry's fixed fields, with
// the free-text compressor name zeroed, then its allowlisted children.
func (p *movParser) stsd(b bmffBox, handler string) (*movBox, error) {
	d, err := p.load(b, 8)
	if err != nil {
		return nil, err
	}
	if len(d) < 8 {
		return nil, malformed("stsd box too short")
	}
	version, count := d[0], binary.BigEndian.Uint32(d[4:8])
	if count == 0 || count > 64 {
		return nil, malformed("stsd box with %d entries", count)
	}
	out := &movBox{typ: "stsd", data: []byte{version, 0, 0, 0, 0, 0, 0, 0}}
	binary.BigEndian.PutUint32(out.data[4:], count)
	off := b.data + 8
	for range count {
		e, err := readBMFFBox(p.s, off, b.end)
		if err != nil {
			return nil, err
		}
		if e.end > b.end {
			return nil, malformed("sample description %q runs past its parent", e.typ)
		}
		entry, err := p.sampleEntry(e, handler, version)
		if err != nil {
			return nil, err
		}
		out.kids = append(out.kids, entry)
		off = e.end
	}
	return out, nil
}

// sampleEntry rebuilds one sample description.
func (p *movParser) sampleEntry(e bmffBox, handler string, stsdVersion byte) (*movBox, error) {
	if e.typ == "encv" || e.typ == "enca" {
		// Its protection scheme (sinf) is not kept: it would not play.
		return nil, malformed("encrypted media (sample description %q)", e.typ)
	}
	fixed, kids := int64(78), movVisualKids
	if handler == "soun" {
		fixed, kids = 28, movAudioKids
	}
	d, err := p.load(e, fixed)
	if err != nil {
		return nil, err
	}
	if int64(len(d)) < fixed {
		return nil, malformed("sample description %q too short", e.typ)
	}
	if handler == "soun" {
		// QuickTime sound descriptions version 1 and 2 have more fixed
		// fields (ffmpeg reads them so in QuickTime files and wherever
		// the stsd is version 0).
		if v := binary.BigEndian.Uint16(d[8:10]); v > 0 && (p.qt || stsdVersion == 0) {
			switch v {
			case 1:
				fixed = 44
			case 2:
				fixed = 64
			default:
				return nil, malformed("sound description version %d", v)
			}
			if d, err = p.load(e, fixed); err != nil {
				return nil, err
			}
			if int64(len(d)) < fixed {
				return nil, malformed("sample description %q too short", e.typ)
			}
		}
		clear(d[10:16]) // QuickTime revision level and vendor
	} else {
		clear(d[8:24])  // ISO pre_defined; QuickTime version, vendor, quality
		clear(d[36:40]) // QuickTime data size
		clear(d[42:74]) // compressor name: free text
	}
	clear(d[0:6])
	d[6], d[7] = 0, 1 // the one data reference: this file
	out := &movBox{typ: e.typ, data: d}
	err = bmffBoxes(p.s, e.data+fixed, e.end, func(c bmffBox) error {
		k, err := p.sampleKid(c, kids)
		if k != nil {
			out.kids = append(out.kids, k)
		}
		return err
	})
	return out, err
}

// sampleKid rebuilds one child of a sample description, nil when dropped.
func (p *movParser) sampleKid(c bmffBox, kids map[string]int) (*movBox, error) {
	n, ok := kids[c.typ]
	if !ok {
		return nil, nil
	}
	switch c.typ {
	case "wave":
		return p.wave(c)
	case "avcC", "hvcC":
		d, err := p.load(c, c.end-c.data)
		if err != nil {
			return nil, err
		}
		keep := keepAvcC
		if c.typ == "hvcC" {
			keep = keepHvcC
		}
		kept, ok := keep(d)
		if !ok {
			return nil, malformed("%q codec configuration at byte %d cannot be read through", c.typ, c.start)
		}
		return &movBox{typ: c.typ, data: kept}, nil
	case "colr":
		d, err := p.load(c, c.end-c.data)
		if err != nil || len(d) < 4 {
			return nil, err
		}
		switch string(d[:4]) {
		case "nclx":
			n = 4 + 7
		case "nclc":
			n = 4 + 6
		case "prof", "rICC":
			if kept := keepICC(d[4:]); kept != nil {
				return &movBox{typ: "colr", data: append(d[:4:4], kept...)}, nil
			}
			return nil, nil
		default:
			return nil, nil
		}
		if len(d) < n {
			return nil, nil
		}
		return &movBox{typ: "colr", data: d[:n]}, nil
	}
	if n < 0 {
		d, err := p.load(c, c.end-c.data)
		return &movBox{typ: c.typ, data: d}, err
	}
	d, err := p.load(c, int64(n))
	if err != nil || len(d) < n {
		return nil, err
	}
	return &movBox{typ: c.typ, data: d}, nil
}

// wave rebuilds QuickTime's sound decompression parameters: the original
// format, the codec configuration, the byte order, the terminator.
func (p *movParser) wave(b bmffBox) (*movBox, error) {
	out := &movBox{typ: "wave"}
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		var n int64
		switch c.typ {
		case "frma", "mp4a":
			n = 4
		case "enda":
			n = 2
		case "esds", "alac":
			n = c.end - c.data
		case "\x00\x00\x00\x00":
			n = 0
		default:
			return nil
		}
		d, err := p.load(c, n)
		if err != nil {
			return err
		}
		if int64(len(d)) == n {
			out.kids = append(out.kids, &movBox{typ: c.typ, data: d})
		}
		return nil
	})
	return out, err
}
