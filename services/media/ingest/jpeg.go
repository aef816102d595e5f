package ingest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sort"
)

// JPEG is a run of marker segments: FF xx, then for most markers a 2-byte
// length (counting itself) and a payload. EXIF and XMP are APP1 payloads. A
// scan (SOS) is followed by entropy-coded data in which a literal FF is
// escaped as FF 00; the next real marker ends it. Progressive files have
// several scans with tables in between, and nothing stops a writer from
// putting APP segments there, so the walk continues through every scan to
// EOI instead of stopping at the first SOS.
//
// Multi-picture files (MPF/MPO: 3D cameras, some phones' depth or gain-map
// images) store further complete JPEGs after the first EOI, each with its own
// EXIF that may hold GPS. A JPEG found right after EOI is walked too.

const (
	markerSOI   = 0xD8
	markerEOI   = 0xD9
	markerSOS   = 0xDA
	markerAPP1  = 0xE1
	markerAPP13 = 0xED

	// maxJPEGImages bounds images walked in one file (the main one plus
	// appended MPF images).
	maxJPEGImages = 16
)

var (
	exifHeader   = []byte("Exif\x00\x00")
	xmpHeader    = []byte("http://ns.adobe.com/xap/1.0/\x00")
	xmpExtHeader = []byte("http://ns.adobe.com/xmp/extension/\x00")
)

// jpegReader reads a JPEG sequentially through a buffer while tracking the
// file offset, since segment payloads are then read or written by offset.
type jpegReader struct {
	br  *bufio.Reader
	pos int64
}

func (r *jpegReader) byte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, err
	}
	r.pos++
	return c, nil
}

func (r *jpegReader) skip(n int64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		d, err := r.br.Discard(k)
		r.pos += int64(d)
		if err != nil {
			return err
		}
		n -= int64(k)
	}
	return nil
}

// jpeg walks the image starting at base. index counts images walked so far.
func (j *job) jpeg(base int64, index int) error {
	r := &jpegReader{br: bufio.NewReaderSize(io.NewSectionReader(j.r, base, j.size-base), 64<<10), pos: base}
	eof := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return malformed("JPEG truncated at %d", r.pos)
		}
		return err
	}
	if a, err := r.byte(); err != nil || a != 0xFF {
		return malformed("JPEG without SOI")
	}
	if b, err := r.byte(); err != nil || b != markerSOI {
		return malformed("JPEG without SOI")
	}

	ext := map[string][]xmpChunk{} // extended XMP chunks by GUID
	for {
		if err := j.step(); err != nil {
			return err
		}
		c, err := r.byte()
		if err != nil {
			return eof(err)
		}
		if c != 0xFF {
			return malformed("JPEG: expected a marker at %d", r.pos-1)
		}
		m, err := r.byte()
		for err == nil && m == 0xFF { // fill bytes before a marker
			m, err = r.byte()
		}
		if err != nil {
			return eof(err)
		}
		switch {
		case m == markerEOI:
			if err := j.jpegExtendedXMP(ext); err != nil {
				return err
			}
			return j.jpegNext(r.pos, index)
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7) || m == markerSOI || m == 0x00:
			continue // markers without a length
		}
		var lb [2]byte
		if lb[0], err = r.byte(); err == nil {
			lb[1], err = r.byte()
		}
		if err != nil {
			return eof(err)
		}
		n := int64(binary.BigEndian.Uint16(lb[:]))
		if n < 2 {
			return malformed("JPEG segment length %d at %d", n, r.pos-2)
		}
		payload := r.pos
		if n-2 > j.size-payload {
			return malformed("JPEG segment at %d runs past the end", payload-4)
		}
		switch m {
		case markerAPP1:
			err = j.jpegAPP1(payload, n-2, ext)
		case markerAPP13:
			err = j.jpegAPP13(payload, n-2)
		}
		if err != nil {
			return err
		}
		if err := r.skip(n - 2); err != nil {
			return eof(err)
		}
		if m == markerSOS {
			if j.inspect {
				return nil // EXIF comes before the image data
			}
			if err := skipEntropy(r); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					// Image data running to the end without EOI: common
					// from some encoders, and decoders accept it. No
					// segment follows, so the walk is complete.
					return j.jpegExtendedXMP(ext)
				}
				return err
			}
		}
	}
}

// skipEntropy advances past entropy-coded data, stopping just before the FF
// that starts the next real marker (found by peeking, since bufio cannot
// unread two bytes).
func skipEntropy(r *jpegReader) error {
	for {
		buf, err := r.br.Peek(2)
		if len(buf) < 2 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if buf[0] == 0xFF && buf[1] != 0x00 && !(buf[1] >= 0xD0 && buf[1] <= 0xD7) && buf[1] != 0xFF {
			return nil
		}
		if buf[0] == 0xFF && buf[1] == 0xFF {
			// Fill bytes: the marker byte decides; step one and look again.
			if err := r.skip(1); err != nil {
				return err
			}
			continue
		}
		// Skip quickly to the next FF in what is buffered.
		avail := r.br.Buffered()
		chunk, _ := r.br.Peek(avail)
		k := bytes.IndexByte(chunk[1:], 0xFF)
		if k < 0 {
			k = len(chunk) - 1
		}
		if err := r.skip(int64(k + 1)); err != nil {
			return err
		}
	}
}

// jpegNext walks a JPEG appended right after the EOI at end, if there is one.
func (j *job) jpegNext(end int64, index int) error {
	if index+1 >= maxJPEGImages || j.size-end < 4 {
		return nil
	}
	var sig [3]byte
	if err := j.readAt(sig[:], end); err != nil {
		return err
	}
	if sig != [3]byte{0xFF, markerSOI, 0xFF} {
		return nil // some other trailer; no reader takes EXIF from it
	}
	return j.jpeg(end, index+1)
}

type xmpChunk struct{ off, dataOff, n int64 }

// jpegAPP1 handles one APP1 payload of n bytes at off.
func (j *job) jpegAPP1(off, n int64, ext map[string][]xmpChunk) error {
	var head [len("http://ns.adobe.com/xmp/extension/\x00") + 32 + 8]byte
	h := head[:min(n, int64(len(head)))]
	if err := j.readAt(h, off); err != nil {
		return err
	}
	switch {
	case bytes.HasPrefix(h, exifHeader):
		return j.exifRegion(region{{off, n}}, int64(len(exifHeader)))
	case bytes.HasPrefix(h, xmpHeader):
		return j.xmpRegion(region{{off + int64(len(xmpHeader)), n - int64(len(xmpHeader))}})
	case bytes.HasPrefix(h, xmpExtHeader) && len(h) == len(head):
		// GUID (32 hex chars), full length, offset of this chunk, data.
		p := len(xmpExtHeader)
		guid := string(h[p : p+32])
		at := int64(binary.BigEndian.Uint32(h[p+36:]))
		data := int64(len(head))
		ext[guid] = append(ext[guid], xmpChunk{off: at, dataOff: off + data, n: n - data})
	}
	return nil
}

// jpegExtendedXMP cleans each extended XMP packet as one logical byte
// string, its chunks put in order of their stated offsets, so that a
// property split across two segments is still found.
func (j *job) jpegExtendedXMP(ext map[string][]xmpChunk) error {
	guids := make([]string, 0, len(ext))
	for g := range ext {
		guids = append(guids, g)
	}
	sort.Strings(guids) // deterministic order of writes
	for _, g := range guids {
		chunks := ext[g]
		sort.SliceStable(chunks, func(a, b int) bool { return chunks[a].off < chunks[b].off })
		rg := make(region, 0, len(chunks))
		for _, c := range chunks {
			rg = append(rg, extent{c.dataOff, c.n})
		}
		if err := j.xmpRegion(rg); err != nil {
			return err
		}
	}
	return nil
}

var photoshopHeader = []byte("Photoshop 3.0\x00")

// jpegAPP13 cleans a Photoshop APP13 segment: a list of image resources
// ("8BIM", id, Pascal name padded to even length, size, data padded to even
// length). Resource 0x0404 holds IPTC-IIM, whose place fields (city,
// country...) photo managers such as Lightroom fill; 0x0424 holds XMP.
func (j *job) jpegAPP13(off, n int64) error {
	if j.inspect || n < int64(len(photoshopHeader)) {
		return nil
	}
	b, err := j.load(region{{off, n}})
	if err != nil || !bytes.HasPrefix(b, photoshopHeader) {
		return err
	}
	cur := bytes.Clone(b)
	cleanIRB(cur[len(photoshopHeader):])
	return j.store(region{{off, n}}, b, cur)
}

// cleanIRB cleans Photoshop image resources in place.
func cleanIRB(p []byte) {
	for len(p) >= 12 {
		id := binary.BigEndian.Uint16(p[4:])
		nameLen := int(p[6]) + 1
		nameLen += nameLen & 1
		if 6+nameLen+4 > len(p) {
			return
		}
		size := int(binary.BigEndian.Uint32(p[6+nameLen:]))
		p = p[6+nameLen+4:]
		if size < 0 || size > len(p) {
			size = len(p) // truncated: clean what is there
		}
		switch id {
		case 0x0404:
			cleanIPTC(p[:size])
		case 0x0424:
			cleanXMP(p[:size])
		}
		p = p[min(size+size&1, len(p)):]
	}
}

// iptcLocation are the IPTC-IIM application record (2) datasets naming a
// place: content location code and name, city, sub-location,
// province/state, country code and country name.
var iptcLocation = map[byte]bool{26: true, 27: true, 90: true, 92: true, 95: true, 100: true, 101: true}

// cleanIPTC removes IPTC location datasets. Each dataset is 0x1C, record,
// dataset, a 16-bit size (high bit set: the size follows in that many
// bytes), then the value. Later datasets move up over removed ones and the
// freed tail is zeroed, which readers take as the usual null padding; merely
// blanking the values would leave empty City/Country tags behind.
func cleanIPTC(b []byte) {
	w, p := 0, 0
	for p+5 <= len(b) && b[p] == 0x1C {
		start := p
		rec, ds := b[p+1], b[p+2]
		size := int(binary.BigEndian.Uint16(b[p+3:]))
		p += 5
		if size&0x8000 != 0 {
			k := size & 0x7FFF
			if k > 4 || p+k > len(b) {
				p = start
				break
			}
			size = 0
			for _, c := range b[p : p+k] {
				size = size<<8 | int(c)
			}
			p += k
		}
		if size < 0 || size > len(b)-p {
			size = len(b) - p // truncated: the value runs to the end
		}
		p += size
		if rec == 2 && iptcLocation[ds] {
			continue
		}
		w += copy(b[w:], b[start:p])
	}
	w += copy(b[w:], b[p:])
	clear(b[w:])
}
