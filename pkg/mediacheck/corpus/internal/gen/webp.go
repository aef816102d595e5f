package main

import (
	"bytes"
	"encoding/binary"
)

type rchunk struct {
	id   string
	data []byte
}

// riffSplit returns a WebP's chunks (within the RIFF size).
func riffSplit(b []byte) []rchunk {
	must(len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP", "base is not a WebP")
	end := 8 + int(binary.LittleEndian.Uint32(b[4:]))
	var cs []rchunk
	for p := 12; p+8 <= end; {
		n := int(binary.LittleEndian.Uint32(b[p+4:]))
		cs = append(cs, rchunk{string(b[p : p+4]), b[p+8 : p+8+n]})
		p += 8 + n + n%2
	}
	return cs
}

func rchunkBytes(id string, data []byte) []byte {
	b := cat([]byte(id), le32(len(data)), data)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func riff(chunks ...[]byte) []byte {
	body := cat(chunks...)
	return cat([]byte("RIFF"), le32(len(body)+4), []byte("WEBP"), body)
}

// VP8X flags.
const (
	vp8xAnim = 0x02
	vp8xXMP  = 0x04
	vp8xEXIF = 0x08
)

func vp8x(flags byte) []byte {
	return rchunkBytes("VP8X", cat([]byte{flags, 0, 0, 0}, []byte{15, 0, 0, 15, 0, 0}))
}

// webpExtended rebuilds a still base as VP8X + image chunk + extra chunks.
func webpExtended(base []byte, flags byte, extra ...[]byte) []byte {
	cs := riffSplit(base)
	must(len(cs) == 1, "still WebP base has one chunk")
	return riff(append([][]byte{vp8x(flags), rchunkBytes(cs[0].id, cs[0].data)}, extra...)...)
}

// webpAnim rebuilds the animated base, letting edit change each chunk
// and appending extra chunks.
func webpAnim(base []byte, flags byte, edit func(i int, c rchunk) []byte, extra ...[]byte) []byte {
	var parts [][]byte
	for i, c := range riffSplit(base) {
		switch {
		case c.id == "VP8X":
			d := bytes.Clone(c.data)
			d[0] |= flags
			parts = append(parts, rchunkBytes("VP8X", d))
		case edit != nil:
			parts = append(parts, edit(i, c))
		default:
			parts = append(parts, rchunkBytes(c.id, c.data))
		}
	}
	return riff(append(parts, extra...)...)
}

func webpShapes() []shape {
	w := func(id, prose string, mark, exif bool, build func(in *inputs, id string) []byte) shape {
		return shape{id: id, ext: "webp", ctype: "image/webp", format: "webp", prose: prose,
			marker: mark, exiftool: exif, build: build}
	}
	exifChunk := func(name, id string) []byte { return rchunkBytes(name, exifGPS(true, id)) }
	return []shape{
		{id: "webp-ordinary", ext: "webp", ctype: "image/webp", format: "webp", tool: "webp-ordinary.webp", exiftool: true,
			prose: "exiftool-written VP8X with EXIF GPS and XMP chunks"},
		w("webp-exif-xmp", "VP8X (extended) with an EXIF chunk holding GPS and an XMP chunk holding the position", true, true,
			func(in *inputs, id string) []byte {
				return webpExtended(in.get("base.webp"), vp8xEXIF|vp8xXMP, exifChunk("EXIF", id),
					rchunkBytes("XMP ", []byte(xmpPacket(id, ""))))
			}),
		w("webp-exif-prefixed", `EXIF chunk starting "Exif\0\0" before the TIFF header (as some writers do)`, true, true,
			func(in *inputs, id string) []byte {
				return webpExtended(in.get("base.webp"), vp8xEXIF, rchunkBytes("EXIF", cat([]byte("Exif\x00\x00"), exifGPS(false, id))))
			}),
		w("webp-exif-lower", `chunk "exif" (lower case) holding a TIFF block with GPS; VP8X claims EXIF`, true, false,
			func(in *inputs, id string) []byte {
				return webpExtended(in.get("base.webp"), vp8xEXIF, exifChunk("exif", id))
			}),
		w("webp-xmp-nul", `chunk "xmp\0" holding XMP; VP8X claims XMP`, true, false,
			func(in *inputs, id string) []byte {
				return webpExtended(in.get("base.webp"), vp8xXMP, rchunkBytes("xmp\x00", []byte(xmpPacket(id, ""))))
			}),
		w("webp-unknown-chunk", `unknown chunk "LOCA" holding the position as text`, true, false,
			func(in *inputs, id string) []byte {
				return webpExtended(in.get("base.webp"), 0, rchunkBytes("LOCA", []byte(payload(id))))
			}),
		w("webp-after-riff", "a whole EXIF chunk with GPS after the end the RIFF size declares", true, true,
			func(in *inputs, id string) []byte {
				return cat(webpExtended(in.get("base.webp"), 0), exifChunk("EXIF", id))
			}),
		w("webp-lossless", "lossless (VP8L) image with an EXIF chunk holding GPS", true, true,
			func(in *inputs, id string) []byte {
				return webpExtended(in.get("base-lossless.webp"), vp8xEXIF, exifChunk("EXIF", id))
			}),
		w("webp-anim", "animated (ANIM/ANMF) image with an EXIF chunk holding GPS", true, true,
			func(in *inputs, id string) []byte {
				return webpAnim(in.get("base-anim.webp"), vp8xEXIF, nil, exifChunk("EXIF", id))
			}),
		w("webp-anmf-exif", "animated image with an EXIF chunk (GPS) inside the first ANMF frame after its bitstream; VP8X claims EXIF", true, false,
			func(in *inputs, id string) []byte {
				first := true
				return webpAnim(in.get("base-anim.webp"), vp8xEXIF, func(_ int, c rchunk) []byte {
					if c.id == "ANMF" && first {
						first = false
						return rchunkBytes("ANMF", cat(c.data, exifChunk("EXIF", id)))
					}
					return rchunkBytes(c.id, c.data)
				})
			}),
		{id: "webp-overrun", ext: "webp", ctype: "image/webp", format: "webp", marker: true, refused: true,
			prose: "XMP chunk whose size runs past the RIFF size and the end of the file",
			build: func(in *inputs, id string) []byte {
				x := rchunkBytes("XMP ", []byte(xmpPacket(id, "")))
				binary.LittleEndian.PutUint32(x[4:], uint32(len(x)+256))
				return webpExtended(in.get("base.webp"), vp8xXMP, x)
			}},
	}
}
