package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
)

type pchunk struct {
	typ  string
	data []byte
}

func pngSplit(b []byte) []pchunk {
	must(bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")), "base is not a PNG")
	var cs []pchunk
	for p := 8; p+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		cs = append(cs, pchunk{string(b[p+4 : p+8]), b[p+8 : p+8+n]})
		p += 12 + n
	}
	return cs
}

func pchunkBytes(typ string, data []byte) []byte {
	crc := crc32.ChecksumIEEE(cat([]byte(typ), data))
	return cat(be32(len(data)), []byte(typ), data, be32(int(crc)))
}

// pngBuild writes the base PNG's chunks with extra chunks placed before the
// first IDAT (pre), after the last IDAT (mid) and after IEND (post).
func pngBuild(base []byte, pre, mid, post [][]byte) []byte {
	out := []byte("\x89PNG\r\n\x1a\n")
	cs := pngSplit(base)
	for i, c := range cs {
		if c.typ == "IDAT" && (i == 0 || cs[i-1].typ != "IDAT") {
			out = cat(append([][]byte{out}, pre...)...)
		}
		if c.typ == "IEND" {
			out = cat(append([][]byte{out}, mid...)...)
		}
		out = append(out, pchunkBytes(c.typ, c.data)...)
	}
	return cat(append([][]byte{out}, post...)...)
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// itxt is an iTXt chunk body (keyword, optionally compressed text).
func itxt(key, text string, compressed bool) []byte {
	if compressed {
		return cat([]byte(key+"\x00\x01\x00\x00\x00"), zlibBytes([]byte(text)))
	}
	return []byte(key + "\x00\x00\x00\x00\x00" + text)
}

// rawProfile is ImageMagick's zTXt "Raw profile type <name>": the data in
// hex, 72 digits a line, after its name and length.
func rawProfile(name string, data []byte) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%s\n%8d\n", name, len(data))
	h := fmt.Sprintf("%x", data)
	for len(h) > 72 {
		sb.WriteString(h[:72] + "\n")
		h = h[72:]
	}
	sb.WriteString(h + "\n")
	return cat([]byte("Raw profile type "+name+"\x00\x00"), zlibBytes([]byte(sb.String())))
}

func pngShapes() []shape {
	p := func(id, prose string, mark, exif bool, build func(in *inputs, id string) []byte) shape {
		return shape{id: id, ext: "png", ctype: "image/png", format: "png", prose: prose,
			marker: mark, exiftool: exif, build: build}
	}
	pre := func(typ string, body func(id string) []byte) func(in *inputs, id string) []byte {
		return func(in *inputs, id string) []byte {
			return pngBuild(in.get("base.png"), [][]byte{pchunkBytes(typ, body(id))}, nil, nil)
		}
	}
	post := func(typ string, body func(id string) []byte) func(in *inputs, id string) []byte {
		return func(in *inputs, id string) []byte {
			return pngBuild(in.get("base.png"), nil, nil, [][]byte{pchunkBytes(typ, body(id))})
		}
	}
	exif := func(id string) []byte { return exifGPS(false, id) }
	xmp := func(id string) []byte { return itxt("XML:com.adobe.xmp", xmpPacket(id, ""), false) }
	text := func(key string) func(id string) []byte {
		return func(id string) []byte { return []byte(key + "\x00" + payload(id)) }
	}
	raw := func(id string) []byte { return []byte(payload(id)) }
	return []shape{
		{id: "png-ordinary", ext: "png", ctype: "image/png", format: "png", tool: "png-ordinary.png", exiftool: true,
			prose: "exiftool-written eXIf GPS and iTXt XMP with exif:GPS and photoshop:City"},
		p("png-exif", "eXIf chunk (little-endian TIFF) with a GPS IFD before IDAT", true, true,
			pre("eXIf", func(id string) []byte { return exifGPS(true, id) })),
		p("png-itxt-xmp", "uncompressed iTXt XML:com.adobe.xmp with the position and city", true, true, pre("iTXt", xmp)),
		p("png-itxt-xmp-z", "compressed iTXt XML:com.adobe.xmp (the marker is inside the zlib stream)", false, true,
			pre("iTXt", func(id string) []byte { return itxt("XML:com.adobe.xmp", xmpPacket(id, ""), true) })),
		p("png-ztxt-exif", `zTXt "Raw profile type exif": hex "Exif\0\0" + TIFF with GPS`, false, true,
			pre("zTXt", func(id string) []byte { return rawProfile("exif", cat([]byte("Exif\x00\x00"), exifGPS(false, id))) })),
		p("png-ztxt-xmp", `zTXt "Raw profile type xmp": hex XMP packet`, false, true,
			pre("zTXt", func(id string) []byte { return rawProfile("xmp", []byte(xmpPacket(id, ""))) })),
		p("png-ztxt-iptc", `zTXt "Raw profile type iptc": hex Photoshop IRB with IPTC City`, false, true,
			pre("zTXt", func(id string) []byte { return rawProfile("iptc", photoshopIRB(iptcCity(id))) })),
		p("png-text-location", "tEXt Location with an ISO 6709 string", true, true, pre("tEXt", text("Location"))),
		p("png-text-comment", "tEXt Comment with an ISO 6709 string", true, true, pre("tEXt", text("Comment"))),
		p("png-itxt-comment", "uncompressed iTXt Comment with an ISO 6709 string", true, true,
			pre("iTXt", func(id string) []byte { return itxt("Comment", payload(id), false) })),
		p("png-exif-case", `chunk "exIf" (case variant of eXIf) holding a TIFF block with GPS`, true, true, pre("exIf", exif)),
		p("png-itxt-case", `chunk "iTxt" (case variant of iTXt) holding XMP`, true, false, pre("iTxt", xmp)),
		p("png-private-gpsx", `private chunk "gpSx" holding the position as text`, true, false, pre("gpSx", raw)),
		p("png-private-vpag", `chunk "vpAg" (ImageMagick's virtual page) holding the position as text`, true, false, pre("vpAg", raw)),
		p("png-after-iend-exif", "eXIf chunk with GPS after IEND", true, true, post("eXIf", exif)),
		p("png-after-iend-text", "tEXt Location chunk after IEND", true, true, post("tEXt", text("Location"))),
		p("png-after-idat-text", "tEXt Location between the last IDAT and IEND", true, true,
			func(in *inputs, id string) []byte {
				return pngBuild(in.get("base.png"), nil, [][]byte{pchunkBytes("tEXt", text("Location")(id))}, nil)
			}),
		p("png-apng", "APNG with two frames and an eXIf chunk with GPS between the frames", true, true, pngAPNG),
		{id: "png-overrun", ext: "png", ctype: "image/png", format: "png", marker: true, refused: true,
			prose: "tEXt chunk whose length runs past the end of the file",
			build: func(in *inputs, id string) []byte {
				c := pchunkBytes("tEXt", text("Location")(id))
				binary.BigEndian.PutUint32(c, 0x10000)
				return pngBuild(in.get("base.png"), [][]byte{c}, nil, nil)
			}},
	}
}

// pngAPNG turns the base into a two-frame APNG (the second frame reuses the
// first's image data) with eXIf between the frames.
func pngAPNG(in *inputs, id string) []byte {
	cs := pngSplit(in.get("base.png"))
	fctl := func(seq int) []byte {
		return pchunkBytes("fcTL", cat(be32(seq), be32(16), be32(16), be32(0), be32(0), be16(1), be16(10), []byte{0, 0}))
	}
	var idat []byte
	out := []byte("\x89PNG\r\n\x1a\n")
	for i, c := range cs {
		switch {
		case c.typ == "IDAT":
			if cs[i-1].typ != "IDAT" {
				out = cat(out, pchunkBytes("acTL", cat(be32(2), be32(0))), fctl(0))
			}
			idat = append(idat, c.data...)
			out = append(out, pchunkBytes(c.typ, c.data)...)
		case c.typ == "IEND":
			out = cat(out, pchunkBytes("eXIf", exifGPS(false, id)), fctl(1),
				pchunkBytes("fdAT", cat(be32(2), idat)), pchunkBytes(c.typ, c.data))
		default:
			out = append(out, pchunkBytes(c.typ, c.data)...)
		}
	}
	return out
}
