package main

// gifSplit returns a GIF's header with its global colour table, the blocks
// up to the trailer, and what follows the trailer.
func gifSplit(b []byte) (head, body []byte) {
	must(len(b) > 13 && string(b[:6]) == "GIF89a", "base is not a GIF89a")
	n := 13
	if b[10]&0x80 != 0 {
		n += 3 << (b[10]&7 + 1)
	}
	must(b[len(b)-1] == 0x3b, "base GIF does not end with its trailer")
	return b[:n], b[n : len(b)-1]
}

// subBlocks frames data as GIF data sub-blocks with the terminator.
func subBlocks(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		n := min(len(data), 255)
		out = append(append(out, byte(n)), data[:n]...)
		data = data[n:]
	}
	return append(out, 0)
}

// gifWith puts blocks before the base's image and after appends bytes
// after its trailer.
func gifWith(base []byte, after []byte, blocks ...[]byte) []byte {
	head, body := gifSplit(base)
	return cat(head, cat(blocks...), body, []byte{0x3b}, after)
}

func gifShapes() []shape {
	g := func(id, prose string, exif bool, build func(in *inputs, id string) []byte) shape {
		return shape{id: id, ext: "gif", ctype: "image/gif", format: "gif", prose: prose,
			marker: true, exiftool: exif, build: build}
	}
	return []shape{
		{id: "gif-xmp", ext: "gif", ctype: "image/gif", format: "gif", tool: "gif-xmp.gif", exiftool: true,
			prose: "exiftool-written XMP application extension (XMP DataXMP) with exif:GPS and photoshop:City"},
		g("gif-xmp-hand", "XMP application extension written as raw bytes with the magic trailer", true, func(in *inputs, id string) []byte {
			// XMP's convention: the packet as raw bytes, then a 258-byte
			// "magic trailer" so that sub-block readers see it end.
			magic := []byte{1}
			for i := 255; i >= 0; i-- {
				magic = append(magic, byte(i))
			}
			magic = append(magic, 0)
			return gifWith(in.get("base.gif"), nil, cat([]byte{0x21, 0xff, 11}, []byte("XMP DataXMP"), []byte(xmpPacket(id, "")), magic))
		}),
		g("gif-comment", "comment extension with an ISO 6709 string", true, func(in *inputs, id string) []byte {
			return gifWith(in.get("base.gif"), nil, cat([]byte{0x21, 0xfe}, subBlocks([]byte(payload(id)))))
		}),
		g("gif-plaintext", "plain text extension whose text is the position", true, func(in *inputs, id string) []byte {
			hdr := []byte{0x21, 0x01, 12, 0, 0, 0, 0, 16, 0, 16, 0, 8, 8, 1, 0}
			return gifWith(in.get("base.gif"), nil, cat(hdr, subBlocks([]byte(payload(id)))))
		}),
		g("gif-app-unknown", `unknown application extension "KBLOCAPP1.0" holding the position`, false, func(in *inputs, id string) []byte {
			return gifWith(in.get("base.gif"), nil, cat([]byte{0x21, 0xff, 11}, []byte("KBLOCAPP1.0"), subBlocks([]byte(payload(id)))))
		}),
		g("gif-trailer", "the position as text after the GIF trailer", false, func(in *inputs, id string) []byte {
			return gifWith(in.get("base.gif"), []byte(payload(id)))
		}),
		g("gif-trailer-comment", "a whole comment extension with the position after the GIF trailer", false, func(in *inputs, id string) []byte {
			return gifWith(in.get("base.gif"), cat([]byte{0x21, 0xfe}, subBlocks([]byte(payload(id))), []byte{0x3b}))
		}),
		{id: "gif-overrun", ext: "gif", ctype: "image/gif", format: "gif", marker: true, refused: true,
			prose: "comment extension whose last sub-block runs past the end of the file",
			build: func(in *inputs, id string) []byte {
				head, body := gifSplit(in.get("base.gif"))
				p := []byte(payload(id))
				return cat(head, body, []byte{0x21, 0xfe, 200}, p)
			}},
	}
}
