package ingest

import "encoding/binary"

// Codec configurations (an MP4 sample entry's avcC or hvcC, a HEIF hvcC
// property) are what a decoder needs before the first frame: parameter
// sets. Their arrays may also carry SEI messages, which hold free text
// (user data, encoder settings), and writers may leave bytes after the
// arrays. These rebuild them from their parameter sets only.

// keepAvcC returns an AVC configuration record holding its fixed fields,
// its sequence and picture parameter sets and, for the high profiles, its
// chroma fields and sequence parameter set extensions; ok is false when
// the record cannot be read through.
func keepAvcC(b []byte) (out []byte, ok bool) {
	r := nalReader{p: b}
	head := r.take(5)
	out = append([]byte(nil), head...)
	sps := r.u8() & 0x1F
	out = append(out, 0xE0|sps)
	out = r.units(out, int(sps), 7)
	pps := r.u8()
	out = append(out, pps)
	out = r.units(out, int(pps), 8)
	if r.bad {
		return nil, false
	}
	// The extension is optional: many writers leave it out even for the
	// high profiles.
	if len(r.p) >= 4 && len(head) == 5 && (head[1] == 100 || head[1] == 110 || head[1] == 122 || head[1] == 144) {
		ext := r.take(3)
		n := r.u8()
		out = append(append(out, ext...), n)
		if out = r.units(out, int(n), 13); r.bad {
			return nil, false
		}
	}
	return out, true
}

// keepHvcC returns an HEVC configuration record holding its 22 fixed bytes
// and its VPS, SPS and PPS arrays; every other array (SEI, for one) is
// dropped. ok is false when the record cannot be read through.
func keepHvcC(b []byte) (out []byte, ok bool) {
	r := nalReader{p: b}
	out = append([]byte(nil), r.take(22)...)
	arrays := int(r.u8())
	var kept [][]byte
	for range arrays {
		head := r.u8()
		n := int(r.u16())
		nalus := r.units(nil, n, -1)
		if r.bad {
			return nil, false
		}
		if t := head & 0x3F; t >= 32 && t <= 34 && n > 0 {
			kept = append(kept, append(binary.BigEndian.AppendUint16([]byte{head}, uint16(n)), nalus...))
		}
	}
	if r.bad {
		return nil, false
	}
	out = append(out, byte(len(kept)))
	for _, a := range kept {
		out = append(out, a...)
	}
	return out, true
}

// nalReader reads a configuration record; bad records any read past its
// end (or a unit of the wrong type).
type nalReader struct {
	p   []byte
	bad bool
}

func (r *nalReader) take(n int) []byte {
	if len(r.p) < n {
		r.bad, r.p = true, nil
		return nil
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

func (r *nalReader) u8() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *nalReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

// units appends n length-prefixed NAL units to out, each of the H.264
// type want (any type when want is -1).
func (r *nalReader) units(out []byte, n, want int) []byte {
	for range n {
		size := int(r.u16())
		u := r.take(size)
		if r.bad || (want >= 0 && (size == 0 || int(u[0]&0x1F) != want)) {
			r.bad = true
			return out
		}
		out = binary.BigEndian.AppendUint16(out, uint16(size))
		out = append(out, u...)
	}
	return out
}
