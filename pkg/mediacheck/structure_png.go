package mediacheck

import (
	"bytes"
	"fmt"
	"hash/crc32"
)

// A PNG may hold only: the signature; IHDR first; PLTE; IDAT; IEND last
// with nothing after it; and the ancillary chunks a reader needs to show the
// picture: tRNS, gAMA, cHRM, sRGB, cICP, mDCv, cLLi, sBIT, bKGD, pHYs, the
// APNG chunks acTL, fcTL, fdAT, the colour profile iCCP and eXIf (with an
// allowed EXIF block). Every CRC is right; at most one eXIf and one iCCP.

// pngAllowed lists the chunk types a PNG may hold, with how many times
// (0: any number).
var pngAllowed = map[string]int{
	"IHDR": 1, "PLTE": 1, "IDAT": 0, "IEND": 1,
	"tRNS": 1, "gAMA": 1, "cHRM": 1, "sRGB": 1, "cICP": 1, "mDCv": 1, "cLLi": 1,
	"sBIT": 1, "bKGD": 1, "pHYs": 1, "acTL": 1, "fcTL": 0, "fdAT": 0,
	"iCCP": 1, "eXIf": 1,
}

// png checks a PNG file.
func (c *checker) png(d []byte) {
	if !bytes.HasPrefix(d, []byte("\x89PNG\r\n\x1a\n")) {
		c.addf("PNG does not start with the PNG signature")
		return
	}
	count := map[string]int{}
	for p, i := 8, 0; c.step(); i++ {
		if p == len(d) {
			c.addf("PNG ends without IEND")
			return
		}
		if p+12 > len(d) {
			c.addf("PNG chunk at byte %d is cut short", p)
			return
		}
		n := uint64(be32(d[p:]))
		typ := string(d[p+4 : p+8])
		if n > 1<<31-1 || uint64(p)+12+n > uint64(len(d)) {
			c.addf("PNG chunk %q at byte %d has length %d past the end of the file", typ, p, n)
			return
		}
		data := d[p+8 : p+8+int(n)]
		if crc := crc32.ChecksumIEEE(d[p+4 : p+8+int(n)]); crc != be32(d[p+8+int(n):]) {
			c.addf("PNG chunk %q at byte %d has a wrong CRC", typ, p)
		}
		at := p
		p += 12 + int(n)
		count[typ]++
		limit, ok := pngAllowed[typ]
		switch {
		case !ok:
			c.addf("PNG holds a %q chunk at byte %d", typ, at)
		case limit != 0 && count[typ] > limit:
			c.addf("PNG holds a second %q chunk at byte %d", typ, at)
		}
		switch typ {
		case "IHDR":
			if i != 0 || n != 13 {
				c.addf("PNG IHDR at byte %d is not the first 13-byte chunk", at)
			}
		case "eXIf":
			c.exif(data, fmt.Sprintf("PNG eXIf at byte %d", at))
		case "IEND":
			if n != 0 {
				c.addf("PNG IEND holds %d bytes", n)
			}
			if p != len(d) {
				c.addf("PNG has %d bytes after IEND", len(d)-p)
			}
			if count["IDAT"] == 0 {
				c.addf("PNG has no IDAT")
			}
			return
		}
		if i == 0 && typ != "IHDR" {
			c.addf("PNG starts with %q, not IHDR", typ)
		}
	}
}
