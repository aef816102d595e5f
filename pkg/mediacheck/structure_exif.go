package mediacheck

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"sort"
)

// An EXIF block (the TIFF structure inside JPEG APP1, PNG eXIf, WebP EXIF
// and the HEIF Exif item) may hold only:
//   - IFD0: Orientation (0x0112, one SHORT 1..8), the Exif IFD pointer
//     (0x8769) and, with Options.KeepLocation, the GPS IFD pointer (0x8825);
//     its next-IFD link is 0 (no IFD1, so no thumbnail);
//   - the Exif IFD: DateTimeOriginal (0x9003, "YYYY:MM:DD hh:mm:ss") and
//     OffsetTimeOriginal (0x9011, "+hh:mm");
//   - the GPS IFD (with KeepLocation only): tags 0x00-0x1F;
//   - and no byte that is not the header, an IFD or a value one of these
//     entries points at (zero padding to a word boundary aside).

// Tags an EXIF block may hold.
const (
	tagOrientation        = 0x0112
	tagExifIFD            = 0x8769
	tagGPSIFD             = 0x8825
	tagDateTimeOriginal   = 0x9003
	tagOffsetTimeOriginal = 0x9011
)

// tiffTypeSize is the size of one value of each TIFF type (0: unknown).
var tiffTypeSize = [...]uint32{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4}

var (
	exifDateTime = regexp.MustCompile(`^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}\x00$`)
	exifOffset   = regexp.MustCompile(`^[+-]\d{2}:\d{2}\x00$`)
)

// tiffEntry is one IFD entry.
type tiffEntry struct {
	tag, typ     uint16
	count, value uint32
	pos          uint32 // of the entry in the block
}

// exif checks an EXIF block b (starting at its TIFF header) found where.
func (c *checker) exif(b []byte, where string) {
	if len(b) < 8 {
		c.addf("%s: EXIF block of %d bytes, too short for a TIFF header", where, len(b))
		return
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		c.addf("%s: EXIF block does not start with a TIFF header (%q)", where, b[:4])
		return
	}
	if len(b) > 1<<24 {
		c.addf("%s: EXIF block of %d bytes", where, len(b))
		return
	}
	size := uint32(len(b))
	// uses counts, per byte, the structures that account for it: 0 is a
	// byte no tag explains, 2 or more an overlap. Marking stops once more
	// bytes were marked than the block has twice over, so that a hostile
	// block of many entries pointing at one big value costs no more than
	// its size.
	uses := make([]uint8, size)
	marked := uint64(0)
	mark := func(off, n uint32) bool {
		if marked += uint64(n); marked > 2*uint64(size) {
			return false
		}
		for i := off; i < off+n && i < size; i++ {
			if uses[i] < 2 {
				uses[i]++
			}
		}
		return true
	}
	mark(0, 8)

	// readIFD returns the entries of the IFD at off and its next-IFD link.
	readIFD := func(name string, off uint32) ([]tiffEntry, uint32, bool) {
		if off < 8 || uint64(off)+2 > uint64(size) {
			c.addf("%s: EXIF %s at %d lies outside the block of %d bytes", where, name, off, size)
			return nil, 0, false
		}
		n := uint32(bo.Uint16(b[off:]))
		end := uint64(off) + 2 + 12*uint64(n) + 4
		if end > uint64(size) {
			c.addf("%s: EXIF %s at %d with %d entries runs past the block", where, name, off, n)
			return nil, 0, false
		}
		if !mark(off, uint32(end)-off) {
			c.addf("%s: EXIF %s at %d overlaps other structures", where, name, off)
			return nil, 0, false
		}
		es := make([]tiffEntry, n)
		for i := range es {
			p := off + 2 + 12*uint32(i)
			es[i] = tiffEntry{bo.Uint16(b[p:]), bo.Uint16(b[p+2:]), bo.Uint32(b[p+4:]), bo.Uint32(b[p+8:]), p}
		}
		return es, bo.Uint32(b[end-4:]), true
	}
	// value returns an entry's value bytes, marking them used, or false
	// when they lie outside the block or the type is unknown.
	value := func(name string, e tiffEntry) ([]byte, bool) {
		if int(e.typ) >= len(tiffTypeSize) || tiffTypeSize[e.typ] == 0 {
			c.addf("%s: EXIF %s tag 0x%04x has unknown type %d", where, name, e.tag, e.typ)
			return nil, false
		}
		n := uint64(tiffTypeSize[e.typ]) * uint64(e.count)
		if n <= 4 {
			inline := b[e.pos+8 : e.pos+12]
			if !allZero(inline[n:]) {
				c.addf("%s: EXIF %s tag 0x%04x has data in the unused bytes of its value field", where, name, e.tag)
			}
			return inline[:n], true
		}
		if uint64(e.value)+n > uint64(size) || e.value < 8 {
			c.addf("%s: EXIF %s tag 0x%04x value (%d bytes at %d) lies outside the block", where, name, e.tag, n, e.value)
			return nil, false
		}
		if !mark(e.value, uint32(n)) {
			c.addf("%s: EXIF %s tag 0x%04x value at %d overlaps other structures", where, name, e.tag, e.value)
			return nil, false
		}
		return b[e.value : e.value+uint32(n)], true
	}
	pointer := func(name string, e tiffEntry) (uint32, bool) {
		if (e.typ != 4 && e.typ != 13) || e.count != 1 {
			c.addf("%s: EXIF %s pointer tag 0x%04x has type %d count %d, want one LONG", where, name, e.tag, e.typ, e.count)
			return 0, false
		}
		return e.value, true
	}
	sorted := func(name string, es []tiffEntry) {
		if !sort.SliceIsSorted(es, func(i, j int) bool { return es[i].tag < es[j].tag }) {
			c.addf("%s: EXIF %s entries are not in tag order", where, name)
		}
		for i := 1; i < len(es); i++ {
			if es[i].tag == es[i-1].tag {
				c.addf("%s: EXIF %s holds tag 0x%04x twice", where, name, es[i].tag)
			}
		}
	}

	ifd0, next, ok := readIFD("IFD0", bo.Uint32(b[4:]))
	if !ok {
		return
	}
	if next != 0 {
		c.addf("%s: EXIF IFD0 links to an IFD1 at %d (thumbnail)", where, next)
	}
	sorted("IFD0", ifd0)
	var exifAt, gpsAt uint32
	for _, e := range ifd0 {
		switch e.tag {
		case tagOrientation:
			v, ok := value("IFD0", e)
			if ok && (e.typ != 3 || e.count != 1 || bo.Uint16(v) < 1 || bo.Uint16(v) > 8) {
				c.addf("%s: EXIF Orientation is not one SHORT 1..8", where)
			}
		case tagExifIFD:
			exifAt, _ = pointer("IFD0", e)
		case tagGPSIFD:
			if !c.opt.KeepLocation {
				c.addf("%s: EXIF IFD0 links a GPS IFD (0x8825) and location is not kept", where)
				continue
			}
			gpsAt, _ = pointer("IFD0", e)
		default:
			c.addf("%s: EXIF IFD0 holds tag 0x%04x", where, e.tag)
			value("IFD0", e)
		}
	}
	if exifAt != 0 {
		es, next, ok := readIFD("Exif IFD", exifAt)
		if ok {
			if next != 0 {
				c.addf("%s: EXIF Exif IFD has a next-IFD link %d", where, next)
			}
			sorted("Exif IFD", es)
			for _, e := range es {
				v, ok := value("Exif IFD", e)
				switch e.tag {
				case tagDateTimeOriginal:
					if ok && (e.typ != 2 || !exifDateTime.Match(v)) {
						c.addf("%s: EXIF DateTimeOriginal %q is not a date and time", where, v)
					}
				case tagOffsetTimeOriginal:
					if ok && (e.typ != 2 || !exifOffset.Match(v)) {
						c.addf("%s: EXIF OffsetTimeOriginal %q is not an offset", where, v)
					}
				default:
					c.addf("%s: EXIF Exif IFD holds tag 0x%04x", where, e.tag)
				}
			}
		}
	}
	if gpsAt != 0 {
		es, next, ok := readIFD("GPS IFD", gpsAt)
		if ok {
			if next != 0 {
				c.addf("%s: EXIF GPS IFD has a next-IFD link %d", where, next)
			}
			sorted("GPS IFD", es)
			for _, e := range es {
				value("GPS IFD", e)
				if e.tag > 0x1F {
					c.addf("%s: EXIF GPS IFD holds tag 0x%04x", where, e.tag)
				}
			}
		}
	}
	c.unaccounted(where, b, uses)
}

// unaccounted reports the bytes of an EXIF block that no structure
// accounts for, but for zero padding of a byte or three (to a word
// boundary), and the bytes two structures claim.
func (c *checker) unaccounted(where string, b []byte, uses []uint8) {
	var gaps []string
	overlaps := 0
	for i := 0; i < len(uses); {
		if uses[i] > 0 {
			if uses[i] > 1 {
				overlaps++
			}
			i++
			continue
		}
		j := i
		for j < len(uses) && uses[j] == 0 {
			j++
		}
		if (j-i > 3 || !allZero(b[i:j])) && len(gaps) < 10 {
			gaps = append(gaps, fmt.Sprintf("%d bytes at %d", j-i, i))
		}
		i = j
	}
	if len(gaps) > 0 {
		c.addf("%s: EXIF block holds bytes no tag accounts for: %v", where, gaps)
	}
	if overlaps > 0 {
		c.addf("%s: EXIF block has %d bytes that two structures claim", where, overlaps)
	}
}
