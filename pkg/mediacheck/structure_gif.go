package mediacheck

import "bytes"

// A GIF may hold only: the header (GIF87a or GIF89a), the logical screen
// descriptor and its colour table, image descriptors with their colour
// tables and image data, graphic control extensions, the application
// extensions NETSCAPE2.0 and ANIMEXTS1.0 (looping) and ICCRGBG1012 (the
// colour profile, at most once), and the trailer as the last byte. No
// comment, plain text or other application extension (XMP rides in one).

// gifApps lists the application extensions a GIF may hold.
var gifApps = map[string]bool{"NETSCAPE2.0": true, "ANIMEXTS1.0": true, "ICCRGBG1012": true}

// gif checks a GIF file.
func (c *checker) gif(d []byte) {
	if len(d) < 13 || (!bytes.HasPrefix(d, []byte("GIF87a")) && !bytes.HasPrefix(d, []byte("GIF89a"))) {
		c.addf("GIF does not start with a GIF header and screen descriptor")
		return
	}
	p := 13
	if d[10]&0x80 != 0 {
		p += 3 << (d[10]&7 + 1)
	}
	images, icc := 0, 0
	// subBlocks skips data sub-blocks up to their terminator and returns the
	// position after it, or -1 when they run past the end.
	subBlocks := func(p int) int {
		for c.step() {
			if p >= len(d) {
				return -1
			}
			n := int(d[p])
			p++
			if n == 0 {
				return p
			}
			p += n
		}
		return -1
	}
	for c.step() {
		if p >= len(d) {
			c.addf("GIF ends without its trailer")
			return
		}
		at := p
		switch d[p] {
		case 0x3B:
			if p+1 != len(d) {
				c.addf("GIF has %d bytes after its trailer", len(d)-p-1)
			}
			if images == 0 {
				c.addf("GIF has no image")
			}
			return
		case 0x2C:
			if p+10 > len(d) {
				c.addf("GIF image descriptor at byte %d is cut short", at)
				return
			}
			flags := d[p+9]
			p += 10
			if flags&0x80 != 0 {
				p += 3 << (flags&7 + 1)
			}
			p++ // LZW minimum code size
			if p = subBlocks(p); p < 0 {
				c.addf("GIF image data at byte %d runs past the end of the file", at)
				return
			}
			images++
		case 0x21:
			if p+2 > len(d) {
				c.addf("GIF extension at byte %d is cut short", at)
				return
			}
			label := d[p+1]
			p += 2
			switch label {
			case 0xF9:
				if p+6 > len(d) || d[p] != 4 || d[p+5] != 0 {
					c.addf("GIF graphic control extension at byte %d is not 4 bytes and a terminator", at)
					return
				}
				p += 6
				continue
			case 0xFF:
				if p+12 > len(d) || d[p] != 11 {
					c.addf("GIF application extension at byte %d has no 11-byte identifier", at)
					return
				}
				id := string(d[p+1 : p+12])
				if !gifApps[id] {
					c.addf("GIF holds application extension %q at byte %d", id, at)
				}
				if id == "ICCRGBG1012" {
					if icc++; icc > 1 {
						c.addf("GIF holds a second colour profile at byte %d", at)
					}
				}
				p += 12
			case 0xFE:
				c.addf("GIF holds a comment extension at byte %d", at)
			case 0x01:
				c.addf("GIF holds a plain text extension at byte %d", at)
			default:
				c.addf("GIF holds extension %02X at byte %d", label, at)
			}
			if p = subBlocks(p); p < 0 {
				c.addf("GIF extension at byte %d runs past the end of the file", at)
				return
			}
		default:
			c.addf("GIF has byte %02X where a block belongs, at byte %d", d[p], at)
			return
		}
	}
}
