package ingest

import (
	"encoding/binary"
	"math"
)

// ISO base media files (MP4, 3GP, QuickTime, HEIF) are trees of boxes
// (QuickTime's atoms): a 32-bit size (1 = a 64-bit size follows, 0 = to the
// end of the parent), a four-character type, and a payload.

// bmffBox is the header of one box as read from the upload.
type bmffBox struct {
	typ   string
	start int64 // first byte of the box
	data  int64 // first byte of the payload (a uuid box's user type included)
	end   int64 // first byte after the box as declared: may lie past the parent
}

// readBMFFBox reads the header of the box at off in a parent that ends at
// limit. The header itself must fit in the parent; whether a box declared
// to run past it is acceptable is the caller's decision (see bmffBoxes).
func readBMFFBox(s *source, off, limit int64) (bmffBox, error) {
	if err := s.step(); err != nil {
		return bmffBox{}, err
	}
	var h [16]byte
	if limit-off < 8 {
		return bmffBox{}, malformed("box header at byte %d cut short", off)
	}
	if err := s.readAt(h[:8], off); err != nil {
		return bmffBox{}, err
	}
	b := bmffBox{typ: string(h[4:8]), start: off, data: off + 8}
	switch size := binary.BigEndian.Uint32(h[:4]); size {
	case 0:
		b.end = limit
	case 1:
		if limit-off < 16 {
			return bmffBox{}, malformed("64-bit box header at byte %d cut short", off)
		}
		if err := s.readAt(h[8:16], off+8); err != nil {
			return bmffBox{}, err
		}
		b.data = off + 16
		if n := binary.BigEndian.Uint64(h[8:16]); n > uint64(math.MaxInt64-off) {
			b.end = math.MaxInt64
		} else {
			b.end = off + int64(n)
		}
	default:
		b.end = off + int64(size)
	}
	if b.end < b.data {
		return bmffBox{}, malformed("box %q at byte %d is smaller than its header", b.typ, off)
	}
	return b, nil
}

// bmffBoxes calls fn for each child box in the payload range [from, to),
// refusing a child that runs past it. Up to 7 zero bytes may end the list
// (QuickTime ends some atom lists with a 32-bit zero); other stray bytes
// are malformed.
func bmffBoxes(s *source, from, to int64, fn func(bmffBox) error) error {
	for off := from; off < to; {
		if to-off < 8 {
			var tail [8]byte
			if err := s.readAt(tail[:to-off], off); err != nil {
				return err
			}
			if tail != [8]byte{} {
				return malformed("stray bytes at byte %d after the last box", off)
			}
			return nil
		}
		b, err := readBMFFBox(s, off, to)
		if err != nil {
			return err
		}
		if b.end > to {
			return malformed("box %q at byte %d runs past its parent", b.typ, off)
		}
		if err := fn(b); err != nil {
			return err
		}
		off = b.end
	}
	return nil
}

// bmffHeader is the header of a box of type typ with n bytes of payload.
func bmffHeader(typ string, n int64) []byte {
	if n+8 > math.MaxUint32 {
		h := make([]byte, 16)
		binary.BigEndian.PutUint32(h, 1)
		copy(h[4:], typ)
		binary.BigEndian.PutUint64(h[8:], uint64(n+16))
		return h
	}
	h := make([]byte, 8)
	binary.BigEndian.PutUint32(h, uint32(n+8))
	copy(h[4:], typ)
	return h
}
