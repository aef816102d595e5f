package mediacheck

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// TestStructureAcceptsClean: the smallest clean file of each format, and
// the fixtures that are clean as they are, hold no violation.
func TestStructureAcceptsClean(t *testing.T) {
	tests := []struct {
		name, contentType string
		data              []byte
		opt               Options
	}{
		{"plain.jpg", "image/jpeg", fixture(t, "plain.jpg"), Options{}},
		{"plain.gif", "image/gif", fixture(t, "plain.gif"), Options{}},
		{"jpeg with all kept segments", "image/jpeg", jpegFile(t, jfif,
			jpegSeg(0xE1, append([]byte("Exif\x00\x00"), cleanEXIF()...)),
			jpegSeg(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), make([]byte, 128)...)),
			jpegSeg(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01"))), Options{}},
		{"jpeg with GPS, kept", "image/jpeg", jpegFile(t, jpegSeg(0xE1, append([]byte("Exif\x00\x00"), gpsEXIF()...))), Options{KeepLocation: true}},
		{"png", "image/png", cleanPNG(), Options{}},
		{"png with kept chunks", "image/png", cleanPNG(pngChunk("gAMA", u32(45455)), pngChunk("eXIf", cleanEXIF()),
			pngChunk("iCCP", []byte("icc\x00\x00\x78\x9c\x03\x00\x00\x00\x00\x01")), pngChunk("pHYs", make([]byte, 9))), Options{}},
		{"gif", "image/gif", gifFile(), Options{}},
		{"gif with loop and control", "image/gif", gifFile(
			[]byte("\x21\xFF\x0BNETSCAPE2.0\x03\x01\x00\x00\x00"), []byte("\x21\xF9\x04\x00\x0A\x00\x00\x00")), Options{}},
		{"webp simple", "image/webp", webpFile(webpVP8(t)), Options{}},
		{"webp extended", "image/webp", webpFile(vp8x(0x28), riffChunk("ICCP", make([]byte, 128)), webpVP8(t), riffChunk("EXIF", cleanEXIF())), Options{}},
		{"mp4", "video/mp4", mp4File(mp4Parts{}), Options{}},
		{"heic", "image/heic", heifFile(heifParts{}), Options{}},
		{"heic with exif", "image/heic", heifFile(heifParts{exif: cleanEXIF()}), Options{}},
		{"webm", "video/webm", webmFile(webmParts{}), Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := Structure(tt.data, tt.contentType, tt.opt); len(v) > 0 {
				t.Errorf("violations in a clean file:\n%s", strings.Join(v, "\n"))
			}
		})
	}
}

// TestStructureFlags: each forbidden shape is reported, with words that say
// what it is.
func TestStructureFlags(t *testing.T) {
	exifAPP1 := func(tiff []byte) []byte { return jpegSeg(0xE1, append([]byte("Exif\x00\x00"), tiff...)) }
	plainJPEG := jpegFile(t, jfif)
	tests := []struct {
		name, contentType string
		data              []byte
		want              string // a substring of some violation
	}{
		// JPEG
		{"XMP APP1", "image/jpeg", jpegFile(t, jfif, jpegSeg(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"))), "APP1"},
		{"second EXIF", "image/jpeg", jpegFile(t, exifAPP1(cleanEXIF()), exifAPP1(cleanEXIF())), "second APP1"},
		{"COM", "image/jpeg", jpegFile(t, jfif, jpegSeg(0xFE, []byte("Paris"))), "comment"},
		{"IPTC APP13", "image/jpeg", jpegFile(t, jpegSeg(0xED, []byte("Photoshop 3.0\x008BIM"))), "APP13"},
		{"data after EOI", "image/jpeg", append(bytes.Clone(plainJPEG), "trailer"...), "after EOI"},
		{"JFIF thumbnail", "image/jpeg", jpegFile(t, jpegSeg(0xE0, append([]byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x01\x01"), 0, 0, 0))), "JFIF"},
		{"no EOI", "image/jpeg", plainJPEG[:len(plainJPEG)-2], "end of the file"},
		{"IFD1 in EXIF", "image/jpeg", jpegFile(t, exifAPP1(tiffBlock(
			tiffIFD{entries: []tiffEntrySpec{entryOrientation6}, next: true},
			tiffIFD{entries: []tiffEntrySpec{{0x0201, 4, 1, u32(0)}}}))), "IFD1"},
		{"GPS IFD without the flag", "image/jpeg", jpegFile(t, exifAPP1(gpsEXIF())), "GPS"},
		{"EXIF maker tag", "image/jpeg", jpegFile(t, exifAPP1(tiffBlock(
			tiffIFD{entries: []tiffEntrySpec{entryOrientation6, {0x010F, 2, 6, []byte("Canon\x00")}}}))), "tag 0x010f"},
		{"EXIF Exif IFD extra tag", "image/jpeg", jpegFile(t, exifAPP1(tiffBlock(
			tiffIFD{entries: []tiffEntrySpec{{0x8769, 4, 1, []byte{1}}}},
			tiffIFD{entries: []tiffEntrySpec{entryTaken, {0x9286, 7, 8, []byte("ASCII\x00\x00\x00")}}}))), "tag 0x9286"},
		{"EXIF hidden bytes", "image/jpeg", jpegFile(t, exifAPP1(append(cleanEXIF(), "Paris, France"...))), "no tag accounts for"},
		{"EXIF text in a date", "image/jpeg", jpegFile(t, exifAPP1(tiffBlock(
			tiffIFD{entries: []tiffEntrySpec{{0x8769, 4, 1, []byte{1}}}},
			tiffIFD{entries: []tiffEntrySpec{{0x9003, 2, 20, []byte("Paris, near the Tow\x00")}}}))), "DateTimeOriginal"},
		{"MPF APP2", "image/jpeg", jpegFile(t, jpegSeg(0xE2, []byte("MPF\x00II*\x00"))), "APP2"},
		{"two ICC profiles", "image/jpeg", jpegFile(t,
			jpegSeg(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), 1)),
			jpegSeg(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), 2))), "one profile"},
		// PNG
		{"tEXt chunk", "image/png", cleanPNG(pngChunk("tEXt", []byte("Comment\x00Paris"))), `"tEXt"`},
		{"iTXt XMP", "image/png", cleanPNG(pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00<x/>"))), `"iTXt"`},
		{"chunk after IEND", "image/png", append(cleanPNG(), pngChunk("tEXt", []byte("a\x00b"))...), "after IEND"},
		{"bad CRC", "image/png", func() []byte { b := cleanPNG(); b[len(b)-1] ^= 1; return b }(), "CRC"},
		{"two eXIf", "image/png", cleanPNG(pngChunk("eXIf", cleanEXIF()), pngChunk("eXIf", cleanEXIF())), "second"},
		{"GPS in eXIf", "image/png", cleanPNG(pngChunk("eXIf", gpsEXIF())), "GPS"},
		{"IHDR not first", "image/png", pngFile(pngChunk("gAMA", u32(1)), pngChunk("IHDR", pngIHDR(1, 1)),
			pngChunk("IDAT", pngIDAT1x1()), pngChunk("IEND", nil)), "IHDR"},
		// GIF
		{"GIF comment", "image/gif", gifFile([]byte("\x21\xFE\x05Paris\x00")), "comment"},
		{"GIF XMP", "image/gif", gifFile([]byte("\x21\xFF\x0BXMP DataXMP\x04<x/>\x00")), "XMP DataXMP"},
		{"GIF plain text", "image/gif", gifFile([]byte("\x21\x01\x0C\x00\x00\x00\x00\x10\x00\x10\x00\x08\x08\x01\x00\x05Paris\x00")), "plain text"},
		{"GIF after trailer", "image/gif", append(gifFile(), "junk"...), "after its trailer"},
		// WebP
		{"WebP XMP chunk", "image/webp", webpFile(vp8x(0x04), webpVP8(t), riffChunk("XMP ", []byte("<x/>"))), `"XMP "`},
		{"WebP EXIF flag without chunk", "image/webp", webpFile(vp8x(0x08), webpVP8(t)), "EXIF flag"},
		{"WebP unknown chunk", "image/webp", webpFile(vp8x(0), webpVP8(t), riffChunk("ABCD", []byte("Paris"))), `"ABCD"`},
		{"WebP RIFF size", "image/webp", append(webpFile(webpVP8(t)), 0, 0), "RIFF size"},
		{"WebP GPS in EXIF", "image/webp", webpFile(vp8x(0x08), webpVP8(t), riffChunk("EXIF", gpsEXIF())), "GPS"},
		{"WebP simple with EXIF", "image/webp", webpFile(webpVP8(t), riffChunk("EXIF", cleanEXIF())), "without VP8X"},
		// ISO BMFF film
		{"udta in moov", "video/mp4", mp4File(mp4Parts{moovExtra: [][]byte{bmffBox("udta", bmffBox("\xa9xyz", []byte("+48.8584+002.2945/")))}}), `"udta"`},
		{"meta in trak", "video/mp4", mp4File(mp4Parts{trakExtra: [][]byte{fullBox("meta", 0, 0)}}), `"meta"`},
		{"gpmd track", "video/mp4", mp4File(mp4Parts{handler: "meta", entry: bmffBox("gpmd", make([]byte, 8))}), "handler"},
		{"gpmd sample entry in a video track", "video/mp4", mp4File(mp4Parts{entry: bmffBox("gpmd", make([]byte, 8))}), "sample entry"},
		{"free box", "video/mp4", mp4File(mp4Parts{topExtra: [][]byte{bmffBox("free", []byte("Paris"))}}), `"free"`},
		{"uuid box", "video/mp4", mp4File(mp4Parts{topExtra: [][]byte{bmffBox("uuid", make([]byte, 16))}}), `"uuid"`},
		{"compressor name", "video/mp4", mp4File(mp4Parts{entry: func() []byte {
			e := avc1Entry("avc1")
			copy(e[8+42:], "\x05Paris")
			return e
		}()}), "compressor name"},
		{"handler name", "video/mp4", bytes.Replace(mp4File(mp4Parts{}), hdlrBox("vide"),
			fullBox("hdlr", 0, 0, u32(0), []byte("vide"), make([]byte, 12), []byte("x")), 1), "name"},
		{"chunk offset outside mdat", "video/mp4", func() []byte {
			b := mp4File(mp4Parts{})
			i := bytes.Index(b, []byte("stco"))
			binary.BigEndian.PutUint32(b[i+12:], 3)
			return b
		}(), "outside every mdat"},
		// HEIF
		{"HEIF mime item", "image/heic", heifFile(heifParts{items: [][]byte{
			fullBox("infe", 2, 0, u16(3), u16(0), []byte("mime"), []byte("\x00application/rdf+xml\x00"))}}), `"mime"`},
		{"HEIF GPS in Exif item", "image/heic", heifFile(heifParts{exif: gpsEXIF()}), "GPS"},
		{"HEIF unknown property", "image/heic", heifFile(heifParts{props: [][]byte{bmffBox("udes", []byte("Paris"))}}), `"udes"`},
		{"HEIF mdat slack", "image/heic", heifFile(heifParts{slack: 7}), "no item points at"},
		{"HEIF extra meta box", "image/heic", heifFile(heifParts{metaExtra: [][]byte{bmffBox("udta")}}), `"udta"`},
		// WebM
		{"WebM Tags", "video/webm", webmFile(webmParts{segment: [][]byte{ebml(0x1254C367, ebml(0x7373))}}), "Tags"},
		{"WebM Void", "video/webm", webmFile(webmParts{segment: [][]byte{ebml(0xEC, make([]byte, 4))}}), "Void"},
		{"WebM title", "video/webm", webmFile(webmParts{info: [][]byte{ebml(0x7BA9, []byte("Paris"))}}), "Title"},
		{"WebM muxing app", "video/webm", webmFile(webmParts{info: [][]byte{ebml(0x4D80, []byte("Lavf"))}}), "MuxingApp"},
		{"WebM track name", "video/webm", webmFile(webmParts{track: [][]byte{ebml(0x536E, []byte("Paris"))}}), "Name"},
		{"WebM after Segment", "video/webm", webmFile(webmParts{after: []byte("junk")}), "after its Segment"},
		{"WebM unknown header child", "video/webm", webmFile(webmParts{header: [][]byte{ebml(0x4281, []byte{1})}}), "EBML header"},
		{"WebM cluster position", "video/webm", webmFile(webmParts{cluster: [][]byte{ebml(0xA7, []byte{0})}}), "Position"},
		{"WebM subtitle track", "video/webm", bytes.Replace(webmFile(webmParts{}), ebml(0x83, []byte{1}), ebml(0x83, []byte{0x11}), 1), "TrackType"},
		// Types without an allowlist
		{"PDF", "application/pdf", []byte("%PDF-1.4\n%%EOF\n"), "no structure allowlist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Structure(tt.data, tt.contentType)
			if !strings.Contains(strings.Join(v, "\n"), tt.want) {
				t.Errorf("violations %q, want one saying %q", v, tt.want)
			}
		})
	}
}

// TestStructureFixtures: the location fixtures, as uploaded, are not
// rebuilt files; the walker must say so for each.
func TestStructureFixtures(t *testing.T) {
	for name, ct := range map[string]string{
		"gps.jpg": "image/jpeg", "gps.png": "image/png", "gps-im.png": "image/png", "gps.gif": "image/gif",
		"gps.webp": "image/webp", "gps.heic": "image/heic", "gps.mp4": "video/mp4", "gps.mov": "video/quicktime",
		"gps-keys.mov": "video/quicktime", "gps.webm": "video/webm",
	} {
		t.Run(name, func(t *testing.T) {
			v := Structure(fixture(t, name), ct)
			if len(v) == 0 {
				t.Error("no violation in a file with a location")
			}
			t.Logf("%s", strings.Join(v, "\n"))
		})
	}
}
