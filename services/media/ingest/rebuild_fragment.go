package ingest

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Fragmented MP4 (what browsers' MediaRecorder and some phones write): moov
// describes the tracks with empty sample tables and announces fragments
// (mvex), and each movie fragment (moof) lists the samples of the mdat
// that follows it. A rebuilt fragment is:
//   - mfhd (the sequence number);
//   - a traf for each fragment of a kept track (by the track_ID of its
//     tfhd), holding only tfhd, tfdt, trun, the sample groups kept in a
//     sample table (movGroupings) and subs; auxiliary information (saiz,
//     saio), uuid and unknown boxes are dropped. Encrypted fragments
//     (senc) are refused: their keys' boxes are not kept, so they would
//     not play.
//
// A track run addresses its samples from a base: the moof itself, an
// absolute base_data_offset in tfhd, or the end of the previous track
// fragment's data (ISO/IEC 14496-12 8.8.7, 8.8.8). The rebuilt moof is
// smaller and its trafs fewer, so every kept trun gets an explicit
// data_offset computed for the new layout, and an absolute
// base_data_offset becomes the new position of the moof.

// movFrag is a movie fragment: its box in the upload, the rebuilt one, and
// the track fragments kept.
type movFrag struct {
	box   bmffBox
	out   *movBox
	trafs []*movTraf
	start int64 // where the rebuilt moof starts in the rebuilt file
}

// movTraf is a kept track fragment: its rebuilt tfhd payload (flags in
// tfhd[1:4], base_data_offset at 8 when flag 0x000001 is set) and its runs.
type movTraf struct {
	tfhd []byte
	runs []*movRun
}

// movRun is a kept track run: its rebuilt trun payload (data_offset at 8),
// and the bytes of its samples in the upload.
type movRun struct {
	trun     []byte
	from, to int64
	mdat     int // the mdat holding the samples; -1 for a run without bytes
}

// tfhd and trun flags.
const (
	movBaseOffset   = 0x000001 // tfhd: base_data_offset present
	movBaseIsMoof   = 0x020000 // tfhd: default-base-is-moof
	movDataOffset   = 0x000001 // trun: data_offset present
	movSampleSizes  = 0x000200 // trun: a size per sample
	movTrunPerEntry = 0x000F00 // trun: duration, size, flags, composition offset per sample
)

// mvex keeps the fragment duration (mehd) and the track defaults (trex);
// which trex are kept is decided once the tracks are known (keptMvex). The
// default sample sizes of every track are recorded: a dropped track's
// fragments must be walked too, as they move the base of the next one.
func (p *movParser) mvex(b bmffBox) error {
	if p.trex != nil {
		return malformed("two fragment announcements (mvex)")
	}
	p.trex = map[uint32]*movBox{}
	p.trexSize = map[uint32]uint32{}
	return bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		switch c.typ {
		case "mehd":
			if p.mehd != nil {
				return malformed("two mehd boxes")
			}
			d, err := p.fullBox(c, 8, 12)
			p.mehd = &movBox{typ: "mehd", data: d}
			return err
		case "trex":
			d, err := p.fullBox(c, 24, 0)
			if err != nil {
				return err
			}
			id := binary.BigEndian.Uint32(d[4:8])
			if p.trex[id] != nil {
				return malformed("two trex boxes for track %d", id)
			}
			if len(p.trex) >= 1024 {
				return malformed("too many trex boxes")
			}
			p.trex[id] = &movBox{typ: "trex", data: d}
			p.trexSize[id] = binary.BigEndian.Uint32(d[16:20])
		}
		return nil
	})
}

// keptMvex is the rebuilt mvex: mehd, and trex of the kept tracks in the
// order of their traks; nil when the upload had none.
func (p *movParser) keptMvex() *movBox {
	if p.trex == nil {
		return nil
	}
	out := &movBox{typ: "mvex"}
	if p.mehd != nil {
		out.kids = append(out.kids, p.mehd)
	}
	for _, id := range p.trackIDs {
		if t := p.trex[id]; t != nil {
			out.kids = append(out.kids, t)
		}
	}
	return out
}

// moof rebuilds a movie fragment and finds where the samples of its kept
// runs lie in the upload.
func (p *movParser) moof(b bmffBox) (*movFrag, error) {
	f := &movFrag{box: b, out: &movBox{typ: "moof"}}
	var mfhd *movBox
	var trafs []*movBox
	// The base of a track fragment that names none: the moof for the
	// first, then the end of the previous one's data.
	implicit := b.start
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		switch c.typ {
		case "mfhd":
			if mfhd != nil {
				return malformed("two movie fragment headers (mfhd)")
			}
			d, err := p.fullBox(c, 8, 0)
			mfhd = &movBox{typ: "mfhd", data: d}
			return err
		case "traf":
			box, t, end, err := p.traf(c, b.start, implicit)
			if err != nil {
				return err
			}
			implicit = end
			if t != nil {
				trafs = append(trafs, box)
				f.trafs = append(f.trafs, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if mfhd == nil {
		return nil, malformed("a movie fragment without its header (mfhd)")
	}
	f.out.kids = append([]*movBox{mfhd}, trafs...)
	return f, nil
}

// traf walks a track fragment whose moof starts at moof and whose base,
// if its tfhd names none, is implicit. It returns the rebuilt traf (nil
// for a track not kept) and where its data ends in the upload.
func (p *movParser) traf(b bmffBox, moof, implicit int64) (*movBox, *movTraf, int64, error) {
	var (
		out      = &movBox{typ: "traf"}
		t        = &movTraf{}
		id       uint32
		base     int64
		next     int64 // where a run without data_offset starts
		defSize  uint32
		haveSize bool
		seen     = map[string]bool{}
		kept     bool
	)
	err := bmffBoxes(p.s, b.data, b.end, func(c bmffBox) error {
		if !seen["tfhd"] && c.typ != "tfhd" {
			return malformed("a track fragment whose header (tfhd) is not first")
		}
		switch c.typ {
		case "tfhd", "tfdt":
			if err := once(seen, c); err != nil {
				return err
			}
		case "senc":
			return malformed("an encrypted movie fragment (senc)")
		}
		switch c.typ {
		case "tfhd":
			d, err := p.load(c, 40)
			if err != nil {
				return err
			}
			if len(d) < 8 || d[0] != 0 {
				return malformed("tfhd box with an unknown version or too short")
			}
			flags := binary.BigEndian.Uint32(d[0:4]) & 0xFFFFFF
			need, at := 8, 8
			for _, f := range []uint32{movBaseOffset, 0x02, 0x08, 0x10, 0x20} {
				if flags&f != 0 {
					if f == movBaseOffset {
						need += 8
					} else {
						need += 4
					}
				}
			}
			if len(d) < need {
				return malformed("tfhd box too short")
			}
			t.tfhd = d[:need]
			id = binary.BigEndian.Uint32(d[4:8])
			switch {
			case flags&movBaseOffset != 0:
				o := binary.BigEndian.Uint64(d[8:16])
				if o > math.MaxInt64 {
					return malformed("base data offset %d out of range", o)
				}
				base, at = int64(o), 16
			case flags&movBaseIsMoof != 0:
				base = moof
			default:
				base = implicit
			}
			next = base
			for _, f := range []uint32{0x02, 0x08} {
				if flags&f != 0 {
					at += 4
				}
			}
			if flags&0x10 != 0 {
				defSize, haveSize = binary.BigEndian.Uint32(d[at:]), true
			} else {
				defSize, haveSize = p.trexSize[id]
			}
			kept = p.kept[id]
			out.kids = append(out.kids, &movBox{typ: "tfhd", data: t.tfhd})
		case "tfdt":
			d, err := p.fullBox(c, 8, 12)
			out.kids = append(out.kids, &movBox{typ: "tfdt", data: d})
			return err
		case "trun":
			r, err := p.trun(c, base, next, defSize, haveSize)
			if err != nil {
				return err
			}
			next = r.to
			t.runs = append(t.runs, r)
			out.kids = append(out.kids, &movBox{typ: "trun", data: r.trun})
		case "sgpd", "sbgp":
			g, err := p.group(c)
			if g != nil {
				out.kids = append(out.kids, g)
			}
			return err
		case "subs":
			d, err := p.subs(c)
			out.kids = append(out.kids, &movBox{typ: "subs", data: d})
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	if !seen["tfhd"] {
		return nil, nil, 0, malformed("a track fragment without its header (tfhd)")
	}
	if !kept {
		return nil, nil, next, nil
	}
	return out, t, next, nil
}

// trun reads a track run whose fragment's base is base; a run without a
// data_offset starts at next. The rebuilt run always holds a data_offset,
// as the base it is relative to moves.
func (p *movParser) trun(c bmffBox, base, next int64, defSize uint32, haveSize bool) (*movRun, error) {
	d, err := p.load(c, c.end-c.data)
	if err != nil {
		return nil, err
	}
	if len(d) < 8 || d[0] > 1 {
		return nil, malformed("trun box with an unknown version or too short")
	}
	flags := binary.BigEndian.Uint32(d[0:4]) & 0xFFFFFF
	count := uint64(binary.BigEndian.Uint32(d[4:8]))
	hdr := 8
	if flags&movDataOffset != 0 {
		hdr += 4
	}
	if flags&0x04 != 0 { // first_sample_flags
		hdr += 4
	}
	per := uint64(4 * bits.OnesCount32(flags&movTrunPerEntry))
	if len(d) < hdr || per > 0 && uint64(len(d)-hdr)/per < count {
		return nil, malformed("trun box lists %d samples it does not hold", count)
	}
	d = d[:hdr+int(count*per)]
	from := next
	if flags&movDataOffset != 0 {
		from = base + int64(int32(binary.BigEndian.Uint32(d[8:12])))
	}
	var total uint64
	if flags&movSampleSizes != 0 {
		at := hdr
		if flags&0x100 != 0 {
			at += 4 // after the duration
		}
		for i := range count {
			total += uint64(binary.BigEndian.Uint32(d[at+int(i*per):]))
		}
	} else {
		if !haveSize && count > 0 {
			return nil, malformed("a track run whose sample sizes are nowhere (trun, tfhd, trex)")
		}
		total = count * uint64(defSize)
	}
	if from < 0 || total > uint64(math.MaxInt64-from) {
		return nil, malformed("a track run at byte %d outside any file", from)
	}
	r := &movRun{from: from, to: from + int64(total), mdat: -1}
	if flags&movDataOffset != 0 {
		r.trun = d
	} else {
		r.trun = make([]byte, 0, len(d)+4)
		r.trun = append(r.trun, d[:8]...)
		r.trun = append(r.trun, 0, 0, 0, 0) // written with the layout
		r.trun = append(r.trun, d[8:]...)
		r.trun[3] |= movDataOffset
	}
	return r, nil
}

// group rebuilds a sample group box (sgpd, sbgp) of a grouping type kept,
// nil for others.
func (p *movParser) group(c bmffBox) (*movBox, error) {
	d, err := p.load(c, c.end-c.data)
	if err != nil || len(d) < 8 || !movGroupings[string(d[4:8])] {
		return nil, err
	}
	if c.typ == "sbgp" {
		at := int64(8)
		if d[0] == 1 {
			at = 12 // after the grouping type parameter
		}
		if d, _, err = p.table(c, at, 8); err != nil {
			return nil, err
		}
	}
	return &movBox{typ: c.typ, data: d}, nil
}

// subs reads sub-sample information, cut to its entries.
func (p *movParser) subs(c bmffBox) ([]byte, error) {
	d, err := p.load(c, c.end-c.data)
	if err != nil {
		return nil, err
	}
	if len(d) < 8 || d[0] > 1 {
		return nil, malformed("subs box with an unknown version or too short")
	}
	size := 2 + 4 + 1 + 1 // subsample_size, codec parameters, priority, discardable
	if d[0] == 1 {
		size += 2
	}
	at := 8
	for range binary.BigEndian.Uint32(d[4:8]) {
		if len(d)-at < 6 {
			return nil, malformed("subs box lists entries it does not hold")
		}
		n := int(binary.BigEndian.Uint16(d[at+4:]))
		at += 6
		if (len(d)-at)/size < n {
			return nil, malformed("subs box lists sub-samples it does not hold")
		}
		at += n * size
	}
	return d[:at], nil
}

// fragOffsets writes the base and data offsets of a rebuilt fragment once
// the layout is known: starts are where the mdats start in the rebuilt
// file.
func (f *movFrag) fragOffsets(mdats []movMdat, starts []int64) error {
	implicit := f.start
	for _, t := range f.trafs {
		flags := binary.BigEndian.Uint32(t.tfhd[0:4]) & 0xFFFFFF
		base := implicit
		switch {
		case flags&movBaseOffset != 0:
			binary.BigEndian.PutUint64(t.tfhd[8:16], uint64(f.start))
			base = f.start
		case flags&movBaseIsMoof != 0:
			base = f.start
		}
		implicit = base
		for _, r := range t.runs {
			at := base // a run without bytes: data_offset 0
			if r.mdat >= 0 {
				at = r.from - mdats[r.mdat].box.start + starts[r.mdat]
			}
			off := at - base
			if off < math.MinInt32 || off > math.MaxInt32 {
				return malformed("a track run %d bytes from its fragment", off)
			}
			binary.BigEndian.PutUint32(r.trun[8:12], uint32(int32(off)))
			implicit = at + (r.to - r.from)
		}
	}
	return nil
}
