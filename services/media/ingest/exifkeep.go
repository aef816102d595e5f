package ingest

import (
	"encoding/binary"
	"time"
)

// EXIF is rebuilt, never edited: the rebuilt block is a new TIFF structure
// holding what is kept on purpose and nothing else:
//   - IFD0 Orientation, so the picture is shown upright;
//   - Exif IFD DateTimeOriginal and OffsetTimeOriginal, when the picture was
//     taken (from DateTimeOriginal, else DateTimeDigitized, else DateTime,
//     as Inspect reads it);
//   - with Options.KeepLocation, the GPS IFD's tags (0x00-0x1F).
//
// Maker notes, thumbnails (IFD1), serial numbers, owner names, comments and
// every tag not listed stay behind.

// exifKept is what a rebuilt EXIF block carries.
type exifKept struct {
	orientation int       // 1..8; 0 when the source had none
	taken       time.Time // zero when unknown
	zoned       bool      // taken came with an offset tag
	gps         []gpsTag  // only with KeepLocation
}

// gpsTag is one GPS IFD entry with its value bytes, in big-endian order.
type gpsTag struct {
	tag, typ uint16
	count    uint32
	value    []byte
}

// readEXIF reads what a rebuilt block keeps from the TIFF block b. ok is
// false when b is not a TIFF block whose IFD0 can be read.
func readEXIF(b []byte, keepGPS bool) (k exifKept, ok bool) {
	t, ifd0, ok := parseTIFF(b)
	if !ok {
		return exifKept{}, false
	}
	n, _, ok := t.ifd(ifd0)
	if !ok {
		return exifKept{}, false
	}
	var gpsIFD uint32
	for i := range n {
		e := t.entry(ifd0, i)
		switch {
		case e.tag == tagOrientation && e.typ == 3 && e.count >= 1:
			if v := int(t.bo.Uint16(t.b[e.pos+8:])); v >= 1 && v <= 8 {
				k.orientation = v
			}
		case e.tag == tagGPSIFD && (e.typ == 4 || e.typ == 13):
			gpsIFD = e.value
		}
	}
	k.taken, k.zoned = takenTime(b)
	if keepGPS && gpsIFD != 0 {
		k.gps = t.gpsTags(gpsIFD)
	}
	return k, true
}

// takenTime is tiffTakenTime, also telling whether an offset tag gave the
// zone.
func takenTime(b []byte) (time.Time, bool) {
	ts := tiffTakenTime(b)
	if ts.IsZero() {
		return ts, false
	}
	return ts, ts.Location() != time.UTC
}

// gpsTags copies the GPS IFD's entries at off (tags 0x00-0x1F with known
// types and values inside the block), converted to big-endian.
func (t tiff) gpsTags(off uint32) []gpsTag {
	n, _, ok := t.ifd(off)
	if !ok {
		return nil
	}
	var tags []gpsTag
	for i := range n {
		e := t.entry(off, i)
		if e.tag > 0x1F || int(e.typ) >= len(typeSizes) || typeSizes[e.typ] == 0 || e.count > 256 {
			continue
		}
		size := typeSizes[e.typ] * uint64(e.count)
		var raw []byte
		if size <= 4 {
			raw = t.b[e.pos+8 : e.pos+8+uint32(size)]
		} else {
			start, end, ok := t.dataRange(e)
			if !ok {
				continue
			}
			raw = t.b[start:end]
		}
		tags = append(tags, gpsTag{tag: e.tag, typ: e.typ, count: e.count, value: toBigEndian(raw, t.bo, typeSizes[e.typ], e.typ)})
	}
	return tags
}

// toBigEndian rewrites TIFF values of type typ (unit bytes each) in
// big-endian order.
func toBigEndian(raw []byte, bo binary.ByteOrder, unit uint64, typ uint16) []byte {
	out := make([]byte, len(raw))
	copy(out, raw)
	if bo == binary.BigEndian || unit == 1 {
		return out
	}
	// RATIONAL and SRATIONAL are two LONGs each.
	if typ == 5 || typ == 10 {
		unit = 4
	}
	for i := 0; i+int(unit) <= len(out); i += int(unit) {
		for a, z := i, i+int(unit)-1; a < z; a, z = a+1, z-1 {
			out[a], out[z] = out[z], out[a]
		}
	}
	return out
}

// empty reports whether nothing is worth an EXIF block.
func (k exifKept) empty() bool {
	return (k.orientation == 0 || k.orientation == 1) && k.taken.IsZero() && len(k.gps) == 0
}

// tiff writes the kept values as a new big-endian TIFF block.
func (k exifKept) tiff() []byte {
	type entry struct {
		tag, typ uint16
		count    uint32
		value    []byte
	}
	var ifd0, exif []entry
	if k.orientation > 1 {
		ifd0 = append(ifd0, entry{tagOrientation, 3, 1, []byte{0, byte(k.orientation)}})
	}
	if !k.taken.IsZero() {
		exif = append(exif, entry{tagDateTimeOriginal, 2, 20, append([]byte(k.taken.Format("2006:01:02 15:04:05")), 0)})
		if k.zoned {
			exif = append(exif, entry{tagOffsetTimeOriginal, 2, 7, append([]byte(k.taken.Format("-07:00")), 0)})
		}
	}
	var gps []entry
	for _, g := range k.gps {
		gps = append(gps, entry{g.tag, g.typ, g.count, g.value})
	}
	// Layout: header, IFD0, Exif IFD, GPS IFD, then out-of-line values.
	ifdSize := func(n int) uint32 { return uint32(2 + 12*n + 4) }
	n0 := len(ifd0)
	if len(exif) > 0 {
		n0++
	}
	if len(gps) > 0 {
		n0++
	}
	off0 := uint32(8)
	offExif := off0 + ifdSize(n0)
	offGPS := offExif
	if len(exif) > 0 {
		offGPS += ifdSize(len(exif))
	}
	data := offGPS
	if len(gps) > 0 {
		data += ifdSize(len(gps))
	}
	be := binary.BigEndian
	out := make([]byte, data)
	copy(out, "MM\x00*")
	be.PutUint32(out[4:], off0)
	writeIFD := func(at uint32, es []entry) {
		be.PutUint16(out[at:], uint16(len(es)))
		for i, e := range es {
			p := at + 2 + 12*uint32(i)
			be.PutUint16(out[p:], e.tag)
			be.PutUint16(out[p+2:], e.typ)
			be.PutUint32(out[p+4:], e.count)
			if len(e.value) <= 4 {
				copy(out[p+8:p+12], e.value)
				continue
			}
			if len(out)%2 == 1 { // values start on a word boundary
				out = append(out, 0)
			}
			be.PutUint32(out[p+8:], uint32(len(out)))
			out = append(out, e.value...)
		}
		// the next-IFD link stays 0: no IFD1, so no thumbnail
	}
	if len(exif) > 0 {
		ifd0 = append(ifd0, entry{tagExifIFD, 4, 1, be.AppendUint32(nil, offExif)})
	}
	if len(gps) > 0 {
		ifd0 = append(ifd0, entry{tagGPSIFD, 4, 1, be.AppendUint32(nil, offGPS)})
	}
	sortEntries := func(es []entry) {
		for i := 1; i < len(es); i++ {
			for j := i; j > 0 && es[j].tag < es[j-1].tag; j-- {
				es[j], es[j-1] = es[j-1], es[j]
			}
		}
	}
	sortEntries(ifd0)
	sortEntries(gps)
	writeIFD(off0, ifd0)
	if len(exif) > 0 {
		writeIFD(offExif, exif)
	}
	if len(gps) > 0 {
		writeIFD(offGPS, gps)
	}
	return out
}
