package mediacheck

import "fmt"

// A WebP may hold only: the RIFF header, whose size is the file's size
// less 8; then either one VP8 or VP8L chunk (simple format), or VP8X first
// followed by ICCP, ANIM, ANMF (whose frame data is only ALPH, VP8, VP8L),
// ALPH, VP8, VP8L and EXIF (with an allowed EXIF block), with the VP8X flags
// saying exactly which of ICC, EXIF and animation are there, no XMP flag,
// and zero reserved bits. At most one ICCP, EXIF and ANIM; padding bytes
// are zero.

// webpAllowed lists the chunks of an extended WebP.
var webpAllowed = map[string]bool{"VP8X": true, "ICCP": true, "ANIM": true, "ANMF": true,
	"ALPH": true, "VP8 ": true, "VP8L": true, "EXIF": true}

// webpChunk is one RIFF chunk.
type webpChunk struct {
	fourcc string
	at     int
	data   []byte
}

// riffChunks splits d[p:end] into chunks.
func (c *checker) riffChunks(d []byte, p, end int, where string) []webpChunk {
	var out []webpChunk
	for p < end && c.step() {
		if p+8 > end {
			c.addf("%s: chunk at byte %d is cut short", where, p)
			return out
		}
		n := int64(uint32(d[p+4]) | uint32(d[p+5])<<8 | uint32(d[p+6])<<16 | uint32(d[p+7])<<24)
		if int64(p)+8+n > int64(end) {
			c.addf("%s: chunk %q at byte %d has size %d past its end", where, d[p:p+4], p, n)
			return out
		}
		ch := webpChunk{string(d[p : p+4]), p, d[p+8 : p+8+int(n)]}
		out = append(out, ch)
		p += 8 + int(n)
		if n%2 == 1 {
			if p >= end {
				c.addf("%s: chunk %q at byte %d lacks its padding byte", where, ch.fourcc, ch.at)
				return out
			}
			if d[p] != 0 {
				c.addf("%s: chunk %q at byte %d has a non-zero padding byte", where, ch.fourcc, ch.at)
			}
			p++
		}
	}
	return out
}

// webp checks a WebP file.
func (c *checker) webp(d []byte) {
	if len(d) < 12 || string(d[:4]) != "RIFF" || string(d[8:12]) != "WEBP" {
		c.addf("WebP does not start with a RIFF WEBP header")
		return
	}
	size := int64(uint32(d[4]) | uint32(d[5])<<8 | uint32(d[6])<<16 | uint32(d[7])<<24)
	if size != int64(len(d))-8 {
		c.addf("WebP RIFF size %d, file size less 8 is %d", size, len(d)-8)
	}
	end := int(min(size+8, int64(len(d))))
	chunks := c.riffChunks(d, 12, end, "WebP")
	if len(chunks) == 0 {
		c.addf("WebP has no chunks")
		return
	}
	if chunks[0].fourcc != "VP8X" {
		if len(chunks) != 1 || (chunks[0].fourcc != "VP8 " && chunks[0].fourcc != "VP8L") {
			var names []string
			for _, ch := range chunks {
				names = append(names, ch.fourcc)
			}
			c.addf("WebP without VP8X holds chunks %q, want one VP8 or VP8L", names)
		}
		return
	}
	count := map[string]int{}
	for i, ch := range chunks {
		count[ch.fourcc]++
		if !webpAllowed[ch.fourcc] {
			c.addf("WebP holds a %q chunk at byte %d", ch.fourcc, ch.at)
		}
		switch ch.fourcc {
		case "VP8X", "ICCP", "EXIF", "ANIM":
			if count[ch.fourcc] > 1 || (ch.fourcc == "VP8X" && i != 0) {
				c.addf("WebP holds a second %q chunk at byte %d", ch.fourcc, ch.at)
			}
		}
		switch ch.fourcc {
		case "EXIF":
			c.exif(ch.data, fmt.Sprintf("WebP EXIF at byte %d", ch.at))
		case "ANMF":
			if len(ch.data) < 16 {
				c.addf("WebP ANMF at byte %d is cut short", ch.at)
				continue
			}
			where := fmt.Sprintf("WebP ANMF at byte %d", ch.at)
			start := ch.at + 8 + 16
			for _, sub := range c.riffChunks(d, start, ch.at+8+len(ch.data), where) {
				if sub.fourcc != "ALPH" && sub.fourcc != "VP8 " && sub.fourcc != "VP8L" {
					c.addf("%s holds a %q chunk", where, sub.fourcc)
				}
			}
		}
	}
	vp8x := chunks[0].data
	if len(vp8x) != 10 {
		c.addf("WebP VP8X is %d bytes, want 10", len(vp8x))
		return
	}
	flags := vp8x[0]
	if flags&0xC1 != 0 || vp8x[1] != 0 || vp8x[2] != 0 || vp8x[3] != 0 {
		c.addf("WebP VP8X has reserved bits set (%02X %02X %02X %02X)", vp8x[0], vp8x[1], vp8x[2], vp8x[3])
	}
	flag := func(bit byte, name string, present bool) {
		if (flags&bit != 0) != present {
			c.addf("WebP VP8X %s flag set: %v; chunk present: %v", name, flags&bit != 0, present)
		}
	}
	flag(0x20, "ICC", count["ICCP"] > 0)
	flag(0x08, "EXIF", count["EXIF"] > 0)
	flag(0x04, "XMP", false)
	flag(0x02, "animation", count["ANIM"] > 0 || count["ANMF"] > 0)
	if count["ALPH"] > 0 && flags&0x10 == 0 {
		c.addf("WebP has an ALPH chunk but no alpha flag")
	}
	if count["VP8 "]+count["VP8L"]+count["ANMF"] == 0 {
		c.addf("WebP has no image data")
	}
}
