package main

import "encoding/binary"

// EBML element IDs used here (with their length markers, as written).
const (
	idSegment     = 0x18538067
	idCluster     = 0x1f43b675
	idTags        = 0x1254c367
	idTag         = 0x7373
	idTargets     = 0x63c0
	idSimpleTag   = 0x67c8
	idTagName     = 0x45a3
	idTagString   = 0x4487
	idAttachments = 0x1941a469
	idAttached    = 0x61a7
	idFileName    = 0x466e
	idFileMime    = 0x4660
	idFileData    = 0x465c
	idFileUID     = 0x46ae
	idUnknown     = 0x4b4c // not a Matroska ID
)

// ebmlVint reads a variable-size integer at p: its value (with the length
// marker when keep), its length, and whether it is the reserved "unknown".
func ebmlVint(b []byte, p int, keep bool) (v uint64, n int, unknown bool) {
	m := byte(0x80)
	for n = 1; b[p]&m == 0; n++ {
		m >>= 1
	}
	v = uint64(b[p])
	if !keep {
		v &= uint64(m - 1)
	}
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[p+i])
	}
	return v, n, !keep && v == 1<<(7*n)-1
}

func ebmlID(id int) []byte {
	switch {
	case id >= 1<<24:
		return be32(id)
	case id >= 1<<16:
		return be32(id)[1:]
	case id >= 1<<8:
		return be16(id)
	}
	return []byte{byte(id)}
}

// ebml is an element with an 8-byte size.
func ebml(id int, parts ...[]byte) []byte {
	body := cat(parts...)
	size := binary.BigEndian.AppendUint64(nil, uint64(len(body)))
	size[0] = 0x01
	return cat(ebmlID(id), size, body)
}

func locationTags(value string) []byte {
	return ebml(idTags, ebml(idTag, ebml(idTargets),
		ebml(idSimpleTag, ebml(idTagName, []byte("LOCATION")), ebml(idTagString, []byte(value)))))
}

// webmAppend adds elements at the end of the base's Segment (so no
// SeekHead or Cues position moves) and bytes after it.
func webmAppend(base []byte, after []byte, elems ...[]byte) []byte {
	_, hl, _ := ebmlVint(base, 0, true)
	hs, sl, _ := ebmlVint(base, hl, false)
	seg := hl + sl + int(hs)
	id, il, _ := ebmlVint(base, seg, true)
	must(id == idSegment, "base WebM: no Segment after the EBML header")
	size, szl, unknown := ebmlVint(base, seg+il, false)
	must(!unknown && szl == 8, "base WebM Segment size is not 8 bytes")
	out := cat(base[:seg+il+szl+int(size)], cat(elems...))
	binary.BigEndian.PutUint64(out[seg+il:], uint64(len(out)-(seg+il+szl)))
	out[seg+il] = 0x01
	return cat(out, base[seg+il+szl+int(size):], after)
}

func webmShapes() []shape {
	wm := func(id, prose string, exif bool, build func(in *inputs, id string) []byte) shape {
		return shape{id: id, ext: "webm", ctype: "video/webm", format: "webm", prose: prose, marker: true, exiftool: exif, build: build}
	}
	tool := func(id, prose string) shape {
		return shape{id: id, ext: "webm", ctype: "video/webm", format: "webm", tool: id + ".webm", marker: true, exiftool: true, prose: prose}
	}
	return []shape{
		tool("webm-tags", "ffmpeg-written Segment Tags SimpleTag LOCATION (ISO 6709)"),
		tool("webm-track-tags", "ffmpeg-written Tags LOCATION targeted at the video track (TagTrackUID)"),
		tool("webm-title", "ffmpeg-written Segment Info Title holding ISO 6709"),
		{id: "webm-subtitle", ext: "webm", ctype: "video/webm", format: "webm", tool: "webm-subtitle.webm", marker: true,
			prose: "ffmpeg-written WebVTT subtitle track whose cue text is the position"},
		wm("webm-attachment", "Attachments with an AttachedFile (text/plain) holding the position, at the end of the Segment", false,
			func(in *inputs, id string) []byte {
				f := ebml(idAttached, ebml(idFileName, []byte("position.txt")), ebml(idFileMime, []byte("text/plain")),
					ebml(idFileData, []byte(payload(id))), ebml(idFileUID, []byte{0, 0, 0, 0, 0, 0, 0, 7}))
				return webmAppend(in.get("base.webm"), nil, ebml(idAttachments, f))
			}),
		wm("webm-tags-end", "a second Tags element with LOCATION at the end of the Segment, after Cues", true,
			func(in *inputs, id string) []byte {
				return webmAppend(in.get("base.webm"), nil, locationTags(payload(id)))
			}),
		wm("webm-unknown-element", "unknown element (ID 0x4B4C) holding the position, at the end of the Segment", false,
			func(in *inputs, id string) []byte {
				return webmAppend(in.get("base.webm"), nil, ebml(idUnknown, []byte(payload(id))))
			}),
		wm("webm-void", "EBML Void element holding the position as text, at the end of the Segment", false,
			func(in *inputs, id string) []byte {
				return webmAppend(in.get("base.webm"), nil, ebml(0xec, []byte(payload(id))))
			}),
		wm("webm-trailer", "a whole Tags element with LOCATION after the Segment ends", true,
			func(in *inputs, id string) []byte {
				return webmAppend(in.get("base.webm"), locationTags(payload(id)))
			}),
		wm("webm-live", "live-recording style: Segment and Cluster of unknown size, Tags LOCATION before the Cluster "+
			"and a second Tags after it (which ends the unknown-size Cluster)", true, webmLive),
		{id: "webm-overrun", ext: "webm", ctype: "video/webm", format: "webm", marker: true, refused: true,
			prose: "Tags element at the end of the Segment whose size runs past the Segment and the file",
			build: func(in *inputs, id string) []byte {
				t := locationTags(payload(id))
				b := webmAppend(in.get("base.webm"), nil, t)
				p := len(b) - len(t)
				binary.BigEndian.PutUint64(b[p+4:], uint64(len(t)-12+64))
				b[p+4] = 0x01
				return b
			}},
	}
}

// webmLive takes ffmpeg's non-seekable output (Segment of unknown size),
// makes its Cluster's size unknown too and appends a second Tags.
func webmLive(in *inputs, id string) []byte {
	b := in.get("base-live.webm")
	_, hl, _ := ebmlVint(b, 0, true)
	hs, sl, _ := ebmlVint(b, hl, false)
	p := hl + sl + int(hs)
	_, il, _ := ebmlVint(b, p, true)
	_, szl, unknown := ebmlVint(b, p+il, false)
	must(unknown, "base-live.webm Segment has a known size")
	for p += il + szl; p < len(b); {
		eid, il, _ := ebmlVint(b, p, true)
		size, szl, _ := ebmlVint(b, p+il, false)
		if eid == idCluster {
			must(szl == 1, "live Cluster size is not one byte")
			b[p+il] = 0xff // one-byte vint, all ones: unknown size
			must(p+il+szl+int(size) == len(b), "live Cluster is not last")
			break
		}
		p += il + szl + int(size)
	}
	return cat(b, locationTags(payload(id)))
}
