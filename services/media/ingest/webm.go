package ingest

import (
	"encoding/binary"
	"strings"
	"time"
)

// WebM (Matroska) keeps free-form metadata in Segment/Tags/Tag/SimpleTag
// elements: a TagName and a TagString. ffmpeg writes "-metadata location=..."
// there as a LOCATION tag. A SimpleTag naming a location is overwritten, in
// place and at the same length, by an EBML Void element (ID 0xEC), the
// Matroska equivalent of MP4's 'free', which every reader skips.
//
// WebM is not one of the formats whose cleaning must succeed (cameras and
// phones record MP4 or QuickTime; browsers' MediaRecorder writes no
// location), so the walk is best effort: an element of unknown size, as live
// recordings write for clusters, ends it without an error.

const (
	ebmlSegment   = 0x18538067
	ebmlInfo      = 0x1549A966
	ebmlDateUTC   = 0x4461
	ebmlTags      = 0x1254C367
	ebmlTag       = 0x7373
	ebmlSimpleTag = 0x67C8
	ebmlTagName   = 0x45A3
	ebmlVoid      = 0xEC
)

// ebmlElem is one element: where it starts, where its payload starts and
// ends.
type ebmlElem struct {
	id               uint32
	start, data, end int64
}

// readEBML reads the element header at off, inside [off, limit). ok is false
// for anything this walk does not follow (unknown size, overrun, garbage).
func (j *job) readEBML(off, limit int64) (ebmlElem, bool) {
	if j.step() != nil || limit-off < 2 {
		return ebmlElem{}, false
	}
	var h [12]byte
	n := min(int64(len(h)), limit-off)
	if j.readAt(h[:n], off) != nil {
		return ebmlElem{}, false
	}
	id, k := ebmlID(h[:n])
	if k == 0 {
		return ebmlElem{}, false
	}
	size, m := ebmlVint(h[k:n])
	if m == 0 || size < 0 {
		return ebmlElem{}, false
	}
	e := ebmlElem{id: id, start: off, data: off + int64(k+m)}
	if size > limit-e.data {
		return ebmlElem{}, false
	}
	e.end = e.data + size
	return e, true
}

func (j *job) webm() error {
	head, ok := j.readEBML(0, j.size)
	if !ok || head.id != 0x1A45DFA3 {
		return nil
	}
	for off := head.end; off < j.size; {
		// The segment's size may be unknown (live recording): then it runs
		// to the end of the file, and its children still have sizes.
		var h [12]byte
		n := min(int64(len(h)), j.size-off)
		if n < 5 || j.readAt(h[:n], off) != nil {
			return nil
		}
		id, k := ebmlID(h[:n])
		size, m := ebmlVint(h[k:n])
		if k == 0 || m == 0 {
			return nil
		}
		data := off + int64(k+m)
		end := j.size
		if size >= 0 && size <= j.size-data {
			end = data + size
		}
		if id == ebmlSegment {
			if err := j.ebmlChildren(data, end, 0); err != nil {
				return err
			}
		}
		off = end
	}
	return nil
}

// ebmlChildren walks the elements in [from, to), descending into Tags, Tag
// and SimpleTag.
func (j *job) ebmlChildren(from, to int64, depth int) error {
	if depth > maxDepth {
		return nil
	}
	for off := from; off < to; {
		e, ok := j.readEBML(off, to)
		if !ok {
			return nil
		}
		switch e.id {
		case ebmlInfo:
			if j.inspect && depth == 0 {
				j.webmDate(e)
				return errFound // nothing else inspected lives in a WebM
			}
		case ebmlTags, ebmlTag:
			if err := j.ebmlChildren(e.data, e.end, depth+1); err != nil {
				return err
			}
		case ebmlSimpleTag:
			if err := j.simpleTag(e, depth+1); err != nil {
				return err
			}
		}
		off = e.end
	}
	return nil
}

// webmEpoch is where Matroska's DateUTC counts from, in nanoseconds.
var webmEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// webmDate reads Segment/Info/DateUTC as the taken time.
func (j *job) webmDate(info ebmlElem) {
	for off := info.data; off < info.end; {
		e, ok := j.readEBML(off, info.end)
		if !ok {
			return
		}
		if e.id == ebmlDateUTC && e.end-e.data == 8 {
			var v [8]byte
			if j.readAt(v[:], e.data) == nil {
				if ts := webmEpoch.Add(time.Duration(int64(binary.BigEndian.Uint64(v[:])))); ts.Year() >= 1900 && ts.Year() <= 2200 {
					j.taken = ts
				}
			}
			return
		}
		off = e.end
	}
}

// simpleTag voids a SimpleTag whose name is a location, or else looks into
// the SimpleTags nested in it.
func (j *job) simpleTag(st ebmlElem, depth int) error {
	for off := st.data; off < st.end; {
		e, ok := j.readEBML(off, st.end)
		if !ok {
			return nil
		}
		if e.id == ebmlTagName && e.end-e.data <= 256 {
			name := make([]byte, e.end-e.data)
			if j.readAt(name, e.data) != nil {
				return nil
			}
			n := strings.ToUpper(string(name))
			if strings.Contains(n, "LOCATION") || strings.Contains(n, "GPS") || strings.Contains(n, "ISO6709") {
				return j.ebmlVoid(st)
			}
		}
		off = e.end
	}
	return j.ebmlChildren(st.data, st.end, depth)
}

// ebmlVoid overwrites an element with a Void element of the same length: ID
// 0xEC, a size written in as many bytes as make the lengths match (up to 8),
// then zeros.
func (j *job) ebmlVoid(e ebmlElem) error {
	if j.inspect {
		return nil
	}
	total := e.end - e.start
	if total < 2 {
		return nil
	}
	w := min(total-1, 8) // size field width
	payload := total - 1 - w
	hdr := make([]byte, 1+w)
	hdr[0] = ebmlVoid
	// A w-byte vint: marker bit at position w, then the value big-endian.
	v := uint64(payload) | 1<<(7*uint(w))
	for i := int64(0); i < w; i++ {
		hdr[w-i] = byte(v >> (8 * uint(i)))
	}
	if err := j.writeAt(hdr, e.start); err != nil {
		return err
	}
	j.changed = true
	return j.zero(e.start+1+w, payload)
}
