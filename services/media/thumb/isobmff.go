package thumb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The ISO base media file format (ISO/IEC 14496-12) frames HEIC, MP4 and
// QuickTime alike: a tree of boxes, each a 32-bit size, a four-letter type
// and a body. Only the few boxes that carry dimensions and duration are read
// here, and every length is checked against what encloses it, because the
// bytes come from users.

var errBadBox = errors.New("thumb: malformed ISOBMFF box")

// box is one box read into memory.
type box struct {
	typ  string
	body []byte
}

// parseBoxes splits b into the boxes it holds.
func parseBoxes(b []byte) ([]box, error) {
	var out []box
	for len(b) > 0 {
		if len(b) < 8 {
			return out, errBadBox
		}
		size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		typ := string(b[4:8])
		switch size {
		case 0: // runs to the end of its parent
			size = uint64(len(b))
		case 1: // a 64-bit size follows the type
			if len(b) < 16 {
				return out, errBadBox
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return out, errBadBox
		}
		out = append(out, box{typ: typ, body: b[hdr:size]})
		b = b[size:]
	}
	return out, nil
}

// child returns the first box of type typ among boxes.
func child(boxes []box, typ string) (box, bool) {
	for _, b := range boxes {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// childBoxes parses the boxes inside the first box of type typ.
func childBoxes(boxes []box, typ string) ([]box, bool) {
	b, ok := child(boxes, typ)
	if !ok {
		return nil, false
	}
	c, err := parseBoxes(b.body)
	if err != nil && len(c) == 0 {
		return nil, false
	}
	return c, true
}

// fullBox splits a FullBox body into its version and the rest (after the
// 24 bits of flags, which are returned too).
func fullBox(body []byte) (version uint8, flags uint32, rest []byte, ok bool) {
	if len(body) < 4 {
		return 0, 0, nil, false
	}
	return body[0], binary.BigEndian.Uint32(body) & 0xffffff, body[4:], true
}

// findTopLevel walks the top-level boxes of a file through r, reading only
// their 8- or 16-byte headers, and returns the body of the first box of type
// typ, refusing one larger than maxBody. This is what makes a video of
// several GB cheap: an MP4's 'moov' may follow gigabytes of 'mdat', which
// are skipped by offset, never read.
func findTopLevel(r io.ReaderAt, size int64, typ string, maxBody int64) ([]byte, error) {
	var hdr [16]byte
	for off := int64(0); off+8 <= size; {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return nil, fmt.Errorf("thumb: reading box header: %w", err)
		}
		boxSize, hdrLen := int64(binary.BigEndian.Uint32(hdr[:])), int64(8)
		switch boxSize {
		case 0:
			boxSize = size - off
		case 1:
			if off+16 > size {
				return nil, errBadBox
			}
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return nil, fmt.Errorf("thumb: reading box header: %w", err)
			}
			u := binary.BigEndian.Uint64(hdr[8:])
			if u > uint64(size) {
				return nil, errBadBox
			}
			boxSize, hdrLen = int64(u), 16
		}
		if boxSize < hdrLen || boxSize > size-off {
			return nil, errBadBox
		}
		if string(hdr[4:8]) == typ {
			n := boxSize - hdrLen
			if n > maxBody {
				return nil, fmt.Errorf("thumb: %q box of %d bytes is over %d", typ, n, maxBody)
			}
			body := make([]byte, n)
			if _, err := r.ReadAt(body, off+hdrLen); err != nil {
				return nil, fmt.Errorf("thumb: reading %q box: %w", typ, err)
			}
			return body, nil
		}
		off += boxSize
	}
	return nil, fmt.Errorf("thumb: no %q box", typ)
}
