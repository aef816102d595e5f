package mediacheck

import (
	"bytes"
	"fmt"
)

// A JPEG may hold only: SOI; APP0 "JFIF\0" with its 14 fixed bytes (no
// thumbnail); APP1 "Exif\0\0" with an allowed EXIF block; APP2
// ICC_PROFILE segments making up one profile; APP14 "Adobe" (12 bytes);
// the coded picture (DQT, DHT, DAC, DRI, DNL, SOFn, and the hierarchical
// DHP and EXP, which carry only numbers); SOS with its entropy-coded data
// and the RSTn inside it; EOI as the file's last two bytes. At most one of
// each metadata segment; fill bytes (FF) before a marker are allowed.

// jpeg checks a JPEG file.
func (c *checker) jpeg(d []byte) {
	if len(d) < 2 || d[0] != 0xFF || d[1] != 0xD8 {
		c.addf("JPEG does not start with SOI")
		return
	}
	seen := map[string]int{}
	var iccCount, iccSeen byte
	iccSeqs := map[byte]bool{}
	sawSOF, sawSOS := false, false
	p := 2
	for c.step() {
		if p >= len(d) {
			c.addf("JPEG ends at byte %d without EOI", p)
			return
		}
		if d[p] != 0xFF {
			c.addf("JPEG has data where a marker belongs, at byte %d", p)
			return
		}
		at := p
		for p < len(d) && d[p] == 0xFF {
			p++
		}
		if p >= len(d) {
			c.addf("JPEG ends in fill bytes at byte %d", at)
			return
		}
		m := d[p]
		p++
		switch {
		case m == 0xD9: // EOI
			if !sawSOF || !sawSOS {
				c.addf("JPEG ends before any frame and scan")
			}
			if p != len(d) {
				c.addf("JPEG has %d bytes after EOI", len(d)-p)
			}
			if iccCount != 0 && int(iccSeen) != int(iccCount) {
				c.addf("JPEG ICC profile has %d of its %d chunks", iccSeen, iccCount)
			}
			return
		case m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7):
			c.addf("JPEG marker %02X out of place at byte %d", m, at)
			continue
		}
		if p+2 > len(d) {
			c.addf("JPEG segment %02X at byte %d is cut short", m, at)
			return
		}
		n := int(be16(d[p:]))
		if n < 2 || p+n > len(d) {
			c.addf("JPEG segment %02X at byte %d has length %d past the end of the file", m, at, n)
			return
		}
		payload := d[p+2 : p+n]
		p += n
		once := func(name string) {
			seen[name]++
			if seen[name] == 2 {
				c.addf("JPEG has a second %s segment at byte %d", name, at)
			}
		}
		switch {
		case m == 0xDA: // SOS
			if !sawSOF {
				c.addf("JPEG scan at byte %d before any frame header", at)
			}
			sawSOS = true
			end, ok := jpegEntropyEnd(d, p)
			if !ok {
				c.addf("JPEG scan data at byte %d runs to the end of the file", p)
				return
			}
			p = end
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			sawSOF = true
		case m == 0xC4, m == 0xCC, m >= 0xDB && m <= 0xDF: // DHT DAC DQT DNL DRI DHP EXP
		case m == 0xE0:
			once("APP0")
			if len(payload) != 14 || !bytes.HasPrefix(payload, []byte("JFIF\x00")) {
				c.addf("JPEG APP0 at byte %d is not a 14-byte JFIF segment (%d bytes, %.5q)", at, len(payload), payload)
			} else if payload[12] != 0 || payload[13] != 0 {
				c.addf("JPEG JFIF segment declares a %dx%d thumbnail", payload[12], payload[13])
			}
		case m == 0xE1:
			once("APP1")
			if !bytes.HasPrefix(payload, []byte("Exif\x00\x00")) {
				c.addf("JPEG APP1 at byte %d is not EXIF (%.30q)", at, payload)
				continue
			}
			c.exif(payload[6:], fmt.Sprintf("JPEG APP1 at byte %d", at))
		case m == 0xE2:
			if len(payload) < 14 || !bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00")) {
				c.addf("JPEG APP2 at byte %d is not an ICC profile chunk (%.12q)", at, payload)
				continue
			}
			seq, count := payload[12], payload[13]
			switch {
			case iccCount != 0 && count != iccCount, seq == 0, seq > count, iccSeqs[seq]:
				c.addf("JPEG ICC chunk %d of %d at byte %d does not belong to one profile", seq, count, at)
			}
			iccCount = count
			iccSeqs[seq] = true
			iccSeen++
		case m == 0xEE:
			once("APP14")
			if len(payload) != 12 || !bytes.HasPrefix(payload, []byte("Adobe")) {
				c.addf("JPEG APP14 at byte %d is not a 12-byte Adobe segment (%.5q)", at, payload)
			}
		case m >= 0xE0 && m <= 0xEF:
			c.addf("JPEG holds an APP%d segment at byte %d (%.30q)", m-0xE0, at, payload)
		case m == 0xFE:
			c.addf("JPEG holds a comment (COM) at byte %d", at)
		default:
			c.addf("JPEG holds a segment with marker %02X at byte %d", m, at)
		}
	}
}

// jpegEntropyEnd returns where the entropy-coded data starting at p ends:
// at the first marker other than a stuffed zero or RSTn.
func jpegEntropyEnd(d []byte, p int) (int, bool) {
	for {
		i := bytes.IndexByte(d[p:], 0xFF)
		if i < 0 {
			return 0, false
		}
		p += i
		q := p + 1
		for q < len(d) && d[q] == 0xFF {
			q++
		}
		if q >= len(d) {
			return 0, false
		}
		if m := d[q]; m == 0 || (m >= 0xD0 && m <= 0xD7) {
			p = q + 1
			continue
		}
		return p, true
	}
}
