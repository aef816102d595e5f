package ingest

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
)

// EXIF is a TIFF structure: a header naming the byte order and the offset of
// IFD0, then image file directories (IFDs) of 12-byte entries. GPS data lives
// in its own IFD, linked from IFD0 (and, in files from careless writers, from
// the Exif IFD or IFD1) by tag 0x8825. All offsets are relative to the TIFF
// header, so the code below works on the TIFF bytes alone.

const (
	tagOrientation = 0x0112
	tagDateTime    = 0x0132
	tagExifIFD     = 0x8769
	tagGPSIFD      = 0x8825
	tagInteropIFD  = 0xA005
	tagSubIFDs     = 0x014A

	// In the Exif IFD: when the picture was taken, when it was digitized,
	// and the UTC offsets of those (EXIF 2.31; older files have none).
	tagDateTimeOriginal    = 0x9003
	tagDateTimeDigitized   = 0x9004
	tagOffsetTime          = 0x9010
	tagOffsetTimeOriginal  = 0x9011
	tagOffsetTimeDigitized = 0x9012

	// maxIFDs bounds the directories visited in one EXIF block; real files
	// have at most five or six (IFD0, Exif, Interop, GPS, IFD1).
	maxIFDs = 32
)

type tiff struct {
	b  []byte
	bo binary.ByteOrder
}

// parseTIFF checks the header and returns the offset of IFD0.
func parseTIFF(b []byte) (tiff, uint32, bool) {
	if len(b) < 8 {
		return tiff{}, 0, false
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return tiff{}, 0, false
	}
	return tiff{b, bo}, bo.Uint32(b[4:]), true
}

// ifd returns the number of entries of the IFD at off that lie inside the
// block, and whether that is all of them. A directory cut short by the end
// of the block still has its whole entries read: some readers do, so GPS
// links among them must be found too.
func (t tiff) ifd(off uint32) (n int, whole bool, ok bool) {
	if uint64(off)+2 > uint64(len(t.b)) {
		return 0, false, false
	}
	n = int(t.bo.Uint16(t.b[off:]))
	if fit := (uint64(len(t.b)) - uint64(off) - 2) / 12; uint64(n) > fit {
		return int(fit), false, true
	}
	return n, true, true
}

// next returns the link to the following IFD, or 0.
func (t tiff) next(off uint32, n int) uint32 {
	p := uint64(off) + 2 + 12*uint64(n)
	if p+4 > uint64(len(t.b)) {
		return 0
	}
	return t.bo.Uint32(t.b[p:])
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	value    uint32 // the value field read as a LONG: an offset when the value does not fit
	pos      uint32 // position of the entry in the block
}

func (t tiff) entry(off uint32, i int) ifdEntry {
	p := off + 2 + 12*uint32(i)
	e := t.b[p : p+12]
	return ifdEntry{
		tag:   t.bo.Uint16(e),
		typ:   t.bo.Uint16(e[2:]),
		count: t.bo.Uint32(e[4:]),
		value: t.bo.Uint32(e[8:]),
		pos:   p,
	}
}

// typeSizes are the byte sizes of the TIFF field types (0 for unknown ones).
var typeSizes = [...]uint64{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4}

// dataRange returns where an entry's value lives when it does not fit in the
// entry itself, if that range lies inside the block.
func (t tiff) dataRange(e ifdEntry) (start, end uint64, ok bool) {
	if int(e.typ) >= len(typeSizes) || typeSizes[e.typ] == 0 {
		return 0, 0, false
	}
	n := typeSizes[e.typ] * uint64(e.count)
	if n <= 4 {
		return 0, 0, false
	}
	start, end = uint64(e.value), uint64(e.value)+n
	return start, end, end <= uint64(len(t.b))
}

// tiffOrientation reads IFD0's orientation tag; ok is false when the block
// cannot be parsed. A missing or out-of-range value reads as 1.
func tiffOrientation(b []byte) (int, bool) {
	t, ifd0, ok := parseTIFF(b)
	if !ok {
		return 1, false
	}
	n, _, ok := t.ifd(ifd0)
	if !ok {
		return 1, false
	}
	for i := range n {
		e := t.entry(ifd0, i)
		if e.tag == tagOrientation && e.typ == 3 && e.count >= 1 {
			if v := int(t.bo.Uint16(t.b[e.pos+8:])); v >= 1 && v <= 8 {
				return v, true
			}
			return 1, true
		}
	}
	return 1, true
}

// tiffTakenTime reads when a picture was taken: DateTimeOriginal, else
// DateTimeDigitized, else IFD0's DateTime (the file's last change, which
// for camera files is the capture), each with its offset tag when present.
// Zero when none parses.
func tiffTakenTime(b []byte) time.Time {
	t, ifd0, ok := parseTIFF(b)
	if !ok {
		return time.Time{}
	}
	tags := map[uint16]string{}
	read := func(off uint32, exif bool) (exifIFD uint32, found bool) {
		n, _, ok := t.ifd(off)
		if !ok {
			return 0, false
		}
		for i := range n {
			e := t.entry(off, i)
			switch {
			case !exif && e.tag == tagExifIFD && (e.typ == 4 || e.typ == 13):
				exifIFD, found = e.value, true
			case !exif && e.tag == tagDateTime,
				exif && e.tag >= tagDateTimeOriginal && e.tag <= tagOffsetTimeDigitized:
				if s, ok := t.ascii(e); ok {
					tags[e.tag] = s
				}
			}
		}
		return exifIFD, found
	}
	if exifIFD, found := read(ifd0, false); found && exifIFD != ifd0 {
		read(exifIFD, true)
	}
	for _, p := range [][2]uint16{
		{tagDateTimeOriginal, tagOffsetTimeOriginal},
		{tagDateTimeDigitized, tagOffsetTimeDigitized},
		{tagDateTime, tagOffsetTime},
	} {
		if ts, ok := exifTime(tags[p[0]], tags[p[1]]); ok {
			return ts
		}
	}
	return time.Time{}
}

// ascii returns an ASCII entry's text up to its first NUL.
func (t tiff) ascii(e ifdEntry) (string, bool) {
	if e.typ != 2 || e.count == 0 || e.count > 64 {
		return "", false
	}
	var v []byte
	if e.count <= 4 {
		v = t.b[e.pos+8 : e.pos+8+e.count]
	} else {
		start, end, ok := t.dataRange(e)
		if !ok {
			return "", false
		}
		v = t.b[start:end]
	}
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(string(v)), true
}

// exifTime parses EXIF's "2006:01:02 15:04:05" with an optional "-07:00"
// offset; without one the time is read as UTC. Blank or zeroed values
// ("0000:00:00 00:00:00", as some cameras write when the clock was never
// set) and years outside 1900..2200 are refused.
func exifTime(v, offset string) (time.Time, bool) {
	if len(v) < 19 {
		return time.Time{}, false
	}
	loc := time.UTC
	if o, err := time.Parse("-07:00", offset); err == nil {
		_, secs := o.Zone()
		loc = time.FixedZone("", secs)
	}
	ts, err := time.ParseInLocation("2006:01:02 15:04:05", v[:19], loc)
	if err != nil || ts.Year() < 1900 || ts.Year() > 2200 {
		return time.Time{}, false
	}
	return ts, true
}
