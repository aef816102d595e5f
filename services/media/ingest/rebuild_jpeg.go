package ingest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
)

// A rebuilt JPEG is SOI, then the kept segments, then the frame exactly as
// the upload had it, then EOI:
//   - APP0 JFIF, cut to its 14 fixed bytes (version, density; no thumbnail);
//   - APP1 Exif, rebuilt by exifKept from the first readable EXIF block;
//   - APP2 ICC_PROFILE, the colour profile, reassembled from its numbered
//     chunks, cleaned by keepICC and split again;
//   - APP14 Adobe (the colour transform a decoder needs for CMYK/YCCK);
//   - the frame: DQT, DHT, DAC, DRI, DNL, SOFn and every scan (SOS with its
//     entropy-coded data) in their original order and bytes.
//
// Everything else is dropped: other APPn (XMP, extended XMP, IPTC, JUMBF and
// C2PA, MPF, maker segments), COM, unknown markers, and whatever follows EOI
// (further MPF images, vendor trailers).

// JPEG markers the rebuild names.
const (
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
	markerAPP1 = 0xE1
)

// rebuildJPEG plans the rebuilt JPEG.
func rebuildJPEG(s *source, out *builder, info *Info, opt Options) error {
	r := &jpegScanner{s: s, br: bufio.NewReaderSize(io.NewSectionReader(s.r, 0, s.size), 64<<10)}
	if c0, err := r.byte(); err != nil || c0 != 0xFF {
		return malformed("not a JPEG")
	}
	if c1, err := r.byte(); err != nil || c1 != markerSOI {
		return malformed("not a JPEG")
	}
	var (
		jfif, adobe []byte
		exif        *exifKept
		icc         = map[byte][]byte{}
		iccCount    byte
		iccBad      bool
		frame       builder // DQT, DHT, SOF, scans, ... in order
		sawSOF      bool
		sawSOS      bool
	)
	for {
		if err := s.step(); err != nil {
			return err
		}
		m, at, err := r.marker()
		if err != nil {
			return err
		}
		switch {
		case m == markerEOI:
			if !sawSOS {
				return malformed("JPEG ends before any scan")
			}
			out.bytes([]byte{0xFF, markerSOI})
			if jfif != nil {
				out.bytes(jpegSegment(0xE0, jfif))
			}
			if exif != nil && !exif.empty() {
				info.Orientation = max(exif.orientation, 1)
				info.TakenTime = exif.taken
				out.bytes(jpegSegment(markerAPP1, append([]byte("Exif\x00\x00"), exif.tiff()...)))
			}
			if profile := assembleICC(icc, iccCount, iccBad); profile != nil {
				if kept := keepICC(profile); kept != nil {
					for _, seg := range iccSegments(kept) {
						out.bytes(seg)
					}
				}
			}
			if adobe != nil {
				out.bytes(jpegSegment(0xEE, adobe))
			}
			out.append(&frame)
			out.bytes([]byte{0xFF, markerEOI})
			return nil // what follows EOI is not part of this picture
		case m == markerSOI || m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			return malformed("JPEG marker %02X out of place at byte %d", m, at)
		}
		n, err := r.length()
		if err != nil {
			return err
		}
		switch {
		case m == markerSOS:
			if !sawSOF {
				return malformed("JPEG scan before its frame header")
			}
			p, err := r.payload(n)
			if err != nil {
				return err
			}
			if !jpegSegmentExact(m, p) {
				return malformed("JPEG scan header at byte %d is not the size its components make", at)
			}
			end, err := r.entropy()
			if err != nil {
				return err
			}
			frame.copy(at, end-at)
			sawSOS = true
		case isFrameMarker(m):
			if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
				if sawSOF {
					return malformed("JPEG with a second frame header at byte %d", at)
				}
				sawSOF = true
			}
			p, err := r.payload(n)
			if err != nil {
				return err
			}
			if !jpegSegmentExact(m, p) {
				return malformed("JPEG marker %02X segment at byte %d is not the size its tables make", m, at)
			}
			frame.copy(at, r.pos-at)
		case m == 0xE0 && jfif == nil, m == markerAPP1 && exif == nil, m == 0xE2, m == 0xEE && adobe == nil:
			p, err := r.payload(n)
			if err != nil {
				return err
			}
			switch {
			case m == 0xE0 && len(p) >= 14 && bytes.HasPrefix(p, []byte("JFIF\x00")):
				jfif = append(p[:12:12], 0, 0) // no thumbnail
			case m == markerAPP1 && len(p) >= 6 && bytes.HasPrefix(p, []byte("Exif\x00")):
				if k, ok := readEXIF(p[6:], opt.KeepLocation); ok {
					exif = &k
				}
			case m == 0xE2 && len(p) >= 14 && bytes.HasPrefix(p, []byte("ICC_PROFILE\x00")):
				seq, count := p[12], p[13]
				if seq == 0 || seq > count || (iccCount != 0 && count != iccCount) || icc[seq] != nil {
					iccBad = true
				}
				iccCount = count
				icc[seq] = p[14:]
			case m == 0xEE && len(p) >= 12 && bytes.HasPrefix(p, []byte("Adobe")):
				adobe = p[:12]
			}
		default:
			// Any other segment is dropped: skipped, never copied.
			if err := r.skip(n); err != nil {
				return err
			}
		}
	}
}

// isFrameMarker reports the markers that make up the coded picture: SOFn,
// DHT, DAC, DQT, DNL, DRI, DHP and EXP.
func isFrameMarker(m byte) bool {
	switch {
	case m >= 0xC0 && m <= 0xCF && m != 0xC8:
		return true
	case m >= 0xDB && m <= 0xDF:
		return true
	}
	return false
}

// jpegSegmentExact reports whether a kept segment's payload holds exactly
// what its marker defines, no byte more: tables, frame and scan headers are
// copied as they are, so nothing may ride along in them unread. Decoders
// refuse such segments too (libjpeg: "bogus marker length").
func jpegSegmentExact(m byte, p []byte) bool {
	switch {
	case m == 0xDB: // DQT: precision and destination, then 64 values of 8 or 16 bits
		for len(p) > 0 {
			n := 65
			if p[0]>>4 == 1 {
				n = 129
			}
			if p[0]>>4 > 1 || len(p) < n {
				return false
			}
			p = p[n:]
		}
		return true
	case m == 0xC4: // DHT: class and destination, 16 counts, then the values
		for len(p) > 0 {
			if len(p) < 17 {
				return false
			}
			n := 17
			for _, c := range p[1:17] {
				n += int(c)
			}
			if len(p) < n {
				return false
			}
			p = p[n:]
		}
		return true
	case m == 0xCC: // DAC: pairs of destination and value
		return len(p) > 0 && len(p)%2 == 0
	case m == 0xDD, m == 0xDC: // DRI, DNL
		return len(p) == 2
	case m == 0xDF: // EXP
		return len(p) == 1
	case m == markerSOS: // components, then spectral selection and approximation
		return len(p) >= 1 && len(p) == 1+2*int(p[0])+3
	case m == 0xDE, m >= 0xC0 && m <= 0xCF: // SOFn and DHP: 6 bytes, then 3 per component
		return len(p) >= 6 && len(p) == 6+3*int(p[5])
	}
	return false
}

// jpegSegment is a marker segment with payload p.
func jpegSegment(m byte, p []byte) []byte {
	seg := []byte{0xFF, m, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(p)+2))
	return append(seg, p...)
}

// maxICCChunk is the profile data one APP2 segment carries.
const maxICCChunk = 65535 - 2 - 14

// assembleICC joins numbered ICC chunks, or returns nil when they do not
// make one whole profile.
func assembleICC(chunks map[byte][]byte, count byte, bad bool) []byte {
	if bad || count == 0 || len(chunks) != int(count) {
		return nil
	}
	var p []byte
	for i := 1; i <= int(count); i++ {
		p = append(p, chunks[byte(i)]...)
	}
	return p
}

// iccSegments splits a profile into APP2 segments.
func iccSegments(p []byte) [][]byte {
	count := (len(p) + maxICCChunk - 1) / maxICCChunk
	if count > 255 {
		return nil
	}
	var segs [][]byte
	for i := 0; i < count; i++ {
		part := p[i*maxICCChunk : min(len(p), (i+1)*maxICCChunk)]
		segs = append(segs, jpegSegment(0xE2, append(append([]byte("ICC_PROFILE\x00"), byte(i+1), byte(count)), part...)))
	}
	return segs
}

// jpegScanner reads a JPEG front to back, tracking the file offset.
type jpegScanner struct {
	s   *source
	br  *bufio.Reader
	pos int64
}

func (r *jpegScanner) byte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, malformed("JPEG ends at byte %d before its end marker", r.pos)
	}
	r.pos++
	return c, nil
}

// marker reads the next marker, skipping fill bytes (FF), and returns it
// with the offset of its first FF.
func (r *jpegScanner) marker() (byte, int64, error) {
	at := r.pos
	c, err := r.byte()
	if err != nil {
		return 0, 0, err
	}
	if c != 0xFF {
		return 0, 0, malformed("JPEG has data where a marker belongs, at byte %d", at)
	}
	for {
		c, err = r.byte()
		if err != nil {
			return 0, 0, err
		}
		if c != 0xFF {
			break
		}
	}
	if c == 0 {
		return 0, 0, malformed("JPEG has a stuffed byte where a marker belongs, at byte %d", at)
	}
	return c, at, nil
}

// length reads a segment's length and returns its payload size.
func (r *jpegScanner) length() (int64, error) {
	hi, err := r.byte()
	if err != nil {
		return 0, err
	}
	lo, err := r.byte()
	if err != nil {
		return 0, err
	}
	n := int64(hi)<<8 | int64(lo)
	if n < 2 {
		return 0, malformed("JPEG segment length %d at byte %d", n, r.pos-2)
	}
	return n - 2, nil
}

func (r *jpegScanner) skip(n int64) error {
	d, err := r.br.Discard(int(n))
	r.pos += int64(d)
	if err != nil {
		return malformed("JPEG segment at byte %d runs past the end of the file", r.pos)
	}
	return nil
}

// payload reads a segment payload of n bytes (n < 64 KiB).
func (r *jpegScanner) payload(n int64) ([]byte, error) {
	if r.s.loaded+n > maxLoaded {
		return nil, malformed("more than %d bytes of metadata", maxLoaded)
	}
	r.s.loaded += n
	p := make([]byte, n)
	k, err := io.ReadFull(r.br, p)
	r.pos += int64(k)
	if err != nil {
		return nil, malformed("JPEG segment at byte %d runs past the end of the file", r.pos)
	}
	return p, nil
}

// entropy reads entropy-coded data up to the next marker other than RSTn
// and returns the offset where that marker (or its fill bytes) starts,
// leaving the reader there.
func (r *jpegScanner) entropy() (int64, error) {
	for {
		b, err := r.br.Peek(r.br.Buffered())
		if len(b) == 0 {
			if _, err = r.br.Peek(1); err != nil {
				return 0, malformed("JPEG scan data runs to the end of the file without an end marker")
			}
			continue
		}
		i := bytes.IndexByte(b, 0xFF)
		if i < 0 {
			r.skip(int64(len(b)))
			continue
		}
		r.skip(int64(i))
		next, err := r.br.Peek(2)
		if err != nil {
			return 0, malformed("JPEG scan data runs to the end of the file without an end marker")
		}
		if c := next[1]; c == 0 || (c >= 0xD0 && c <= 0xD7) {
			r.skip(2)
			continue
		}
		return r.pos, nil
	}
}
