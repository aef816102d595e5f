package ingest

import (
	"bytes"
	"encoding/binary"
	"math"
)

// Boxes of an ISO base media file, read for the HEIF rebuild: the top level
// from the upload header by header, everything inside meta from memory.

// heifBox is one box: its type, the file offset of its first byte, and
// either its payload (boxes read from memory) or the file range of its
// payload (top-level boxes, whose payload may be large).
type heifBox struct {
	typ       string
	at        int64
	body      []byte
	data, end int64
}

// heifTopBox reads the header of the top-level box at off. ok is false when
// the bytes there are not a box that fits in the file: the caller treats
// them as trailing bytes.
func heifTopBox(s *source, off int64) (b heifBox, ok bool, err error) {
	if err := s.step(); err != nil {
		return heifBox{}, false, err
	}
	if s.size-off < 8 {
		return heifBox{}, false, nil
	}
	var h [16]byte
	if err := s.readAt(h[:8], off); err != nil {
		return heifBox{}, false, err
	}
	size, hdr := uint64(binary.BigEndian.Uint32(h[:])), int64(8)
	switch size {
	case 0:
		size = uint64(s.size - off)
	case 1:
		if s.size-off < 16 {
			return heifBox{}, false, nil
		}
		if err := s.readAt(h[8:16], off+8); err != nil {
			return heifBox{}, false, err
		}
		size, hdr = binary.BigEndian.Uint64(h[8:]), 16
	}
	if size < uint64(hdr) || size > uint64(s.size-off) {
		return heifBox{}, false, nil
	}
	return heifBox{typ: string(h[4:8]), at: off, data: off + hdr, end: off + int64(size)}, true, nil
}

// heifBoxChildren splits p, which starts at file offset at, into boxes. Every
// box must fit in p exactly.
func heifBoxChildren(s *source, p []byte, at int64) ([]heifBox, error) {
	var out []heifBox
	for len(p) > 0 {
		if err := s.step(); err != nil {
			return nil, err
		}
		if len(p) < 8 {
			return nil, malformed("HEIF box at byte %d cut short", at)
		}
		typ := string(p[4:8])
		size, hdr := uint64(binary.BigEndian.Uint32(p)), uint64(8)
		switch size {
		case 0:
			size = uint64(len(p))
		case 1:
			if len(p) < 16 {
				return nil, malformed("HEIF box %q at byte %d cut short", typ, at)
			}
			size, hdr = binary.BigEndian.Uint64(p[8:]), 16
		}
		if size < hdr || size > uint64(len(p)) {
			return nil, malformed("HEIF box %q at byte %d runs past its parent", typ, at)
		}
		out = append(out, heifBox{typ: typ, at: at, body: p[hdr:size]})
		p, at = p[size:], at+int64(size)
	}
	return out, nil
}

// heifBoxFull splits a full box's payload into version, flags and the rest.
func heifBoxFull(b heifBox) (version byte, flags uint32, rest []byte, err error) {
	if len(b.body) < 4 {
		return 0, 0, nil, malformed("HEIF %q box at byte %d too short", b.typ, b.at)
	}
	return b.body[0], binary.BigEndian.Uint32(b.body) & 0xFFFFFF, b.body[4:], nil
}

// heifBoxReader reads big-endian fields from a box payload; bad is set
// (and zeros returned) once a read runs past the end.
type heifBoxReader struct {
	p   []byte
	bad bool
}

// uint reads an n-byte unsigned field (n is 0, 1, 2, 4 or 8).
func (r *heifBoxReader) uint(n int) uint64 {
	if len(r.p) < n {
		r.bad, r.p = true, nil
		return 0
	}
	var v uint64
	for _, c := range r.p[:n] {
		v = v<<8 | uint64(c)
	}
	r.p = r.p[n:]
	return v
}

func (r *heifBoxReader) u8() byte    { return byte(r.uint(1)) }
func (r *heifBoxReader) u16() uint16 { return uint16(r.uint(2)) }
func (r *heifBoxReader) u32() uint32 { return uint32(r.uint(4)) }

// cstr reads a NUL-terminated string; the last one may end with the box.
func (r *heifBoxReader) cstr() string {
	i := bytes.IndexByte(r.p, 0)
	if i < 0 {
		s := string(r.p)
		r.p = nil
		return s
	}
	s := string(r.p[:i])
	r.p = r.p[i+1:]
	return s
}

// heifBoxPut writes a box of type typ around the concatenated parts.
func heifBoxPut(typ string, parts ...[]byte) []byte {
	n := 8
	for _, p := range parts {
		n += len(p)
	}
	var out []byte
	if n > math.MaxUint32 { // never for metadata, which is bounded by maxBlock
		out = binary.BigEndian.AppendUint32(make([]byte, 0, n+8), 1)
		out = append(out, typ...)
		out = binary.BigEndian.AppendUint64(out, uint64(n+8))
	} else {
		out = binary.BigEndian.AppendUint32(make([]byte, 0, n), uint32(n))
		out = append(out, typ...)
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// heifBoxPutFull writes a full box: version and flags, then the parts.
func heifBoxPutFull(typ string, version byte, flags uint32, parts ...[]byte) []byte {
	vf := binary.BigEndian.AppendUint32(nil, uint32(version)<<24|flags&0xFFFFFF)
	return heifBoxPut(typ, append([][]byte{vf}, parts...)...)
}

// heifBoxUint appends v to p as an n-byte big-endian field.
func heifBoxUint(p []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		p = append(p, byte(v>>(8*i)))
	}
	return p
}
