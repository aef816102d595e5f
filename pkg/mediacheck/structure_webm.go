package mediacheck

import "fmt"

// A WebM may hold only: the EBML header with its seven standard children
// (DocType "webm"); then one Segment of known size, the last thing in the
// file, holding only SeekHead, Info (TimestampScale, Duration, DateUTC),
// Tracks (TrackEntry with the elements a player needs: number, UID, type
// video or audio, flags, default duration, codec ID, private data, delay
// and pre-roll, language, Video with its standard children and Colour,
// Audio, ContentEncodings), Cues and Cluster (Timestamp, SimpleBlock,
// BlockGroup with Block, BlockDuration, ReferenceBlock, DiscardPadding and
// BlockAdditions). No Tags, Attachments, Chapters, Void, CRC-32, titles,
// muxing or writing app names, and no element of unknown size or ID.

// ebmlRule is what the allowlist says of one element ID.
type ebmlRule struct {
	name     string
	children map[uint32]*ebmlRule // nil: a leaf
	check    func(c *checker, at int, data []byte)
	once     bool
}

// leaf and master build rules.
func leaf(name string) *ebmlRule { return &ebmlRule{name: name, once: true} }
func master(name string, children map[uint32]*ebmlRule) *ebmlRule {
	return &ebmlRule{name: name, children: children}
}

var (
	webmHeader = map[uint32]*ebmlRule{
		0x4286: leaf("EBMLVersion"), 0x42F7: leaf("EBMLReadVersion"), 0x42F2: leaf("EBMLMaxIDLength"),
		0x42F3: leaf("EBMLMaxSizeLength"), 0x4287: leaf("DocTypeVersion"), 0x4285: leaf("DocTypeReadVersion"),
		0x4282: {name: "DocType", once: true, check: func(c *checker, at int, data []byte) {
			if string(trimZeros(data)) != "webm" {
				c.addf("WebM DocType %q at byte %d, want webm", data, at)
			}
		}},
	}
	webmColour = map[uint32]*ebmlRule{
		0x55B1: leaf("MatrixCoefficients"), 0x55B2: leaf("BitsPerChannel"), 0x55B3: leaf("ChromaSubsamplingHorz"),
		0x55B4: leaf("ChromaSubsamplingVert"), 0x55B5: leaf("CbSubsamplingHorz"), 0x55B6: leaf("CbSubsamplingVert"),
		0x55B7: leaf("ChromaSitingHorz"), 0x55B8: leaf("ChromaSitingVert"), 0x55B9: leaf("Range"),
		0x55BA: leaf("TransferCharacteristics"), 0x55BB: leaf("Primaries"), 0x55BC: leaf("MaxCLL"), 0x55BD: leaf("MaxFALL"),
		0x55D0: master("MasteringMetadata", map[uint32]*ebmlRule{
			0x55D1: leaf("PrimaryRChromaticityX"), 0x55D2: leaf("PrimaryRChromaticityY"),
			0x55D3: leaf("PrimaryGChromaticityX"), 0x55D4: leaf("PrimaryGChromaticityY"),
			0x55D5: leaf("PrimaryBChromaticityX"), 0x55D6: leaf("PrimaryBChromaticityY"),
			0x55D7: leaf("WhitePointChromaticityX"), 0x55D8: leaf("WhitePointChromaticityY"),
			0x55D9: leaf("LuminanceMax"), 0x55DA: leaf("LuminanceMin"),
		}),
	}
	webmVideo = map[uint32]*ebmlRule{
		0x9A: leaf("FlagInterlaced"), 0x9D: leaf("FieldOrder"), 0x53B8: leaf("StereoMode"), 0x53C0: leaf("AlphaMode"),
		0xB0: leaf("PixelWidth"), 0xBA: leaf("PixelHeight"), 0x54AA: leaf("PixelCropBottom"), 0x54BB: leaf("PixelCropTop"),
		0x54CC: leaf("PixelCropLeft"), 0x54DD: leaf("PixelCropRight"), 0x54B0: leaf("DisplayWidth"),
		0x54BA: leaf("DisplayHeight"), 0x54B2: leaf("DisplayUnit"), 0x54B3: leaf("AspectRatioType"),
		0x2383E3: leaf("FrameRate"), 0x55B0: master("Colour", webmColour),
	}
	webmAudio = map[uint32]*ebmlRule{
		0xB5: leaf("SamplingFrequency"), 0x78B5: leaf("OutputSamplingFrequency"), 0x9F: leaf("Channels"), 0x6264: leaf("BitDepth"),
	}
	webmContentEncodings = map[uint32]*ebmlRule{
		0x6240: master("ContentEncoding", map[uint32]*ebmlRule{
			0x5031: leaf("ContentEncodingOrder"), 0x5032: leaf("ContentEncodingScope"), 0x5033: leaf("ContentEncodingType"),
			0x5034: master("ContentCompression", map[uint32]*ebmlRule{0x4254: leaf("ContentCompAlgo"), 0x4255: leaf("ContentCompSettings")}),
			0x5035: master("ContentEncryption", map[uint32]*ebmlRule{
				0x47E1: leaf("ContentEncAlgo"), 0x47E2: leaf("ContentEncKeyID"),
				0x47E7: master("ContentEncAESSettings", map[uint32]*ebmlRule{0x47E8: leaf("AESSettingsCipherMode")}),
			}),
		}),
	}
	webmTrackEntry = map[uint32]*ebmlRule{
		0xD7: leaf("TrackNumber"), 0x73C5: leaf("TrackUID"),
		0x83: {name: "TrackType", once: true, check: func(c *checker, at int, data []byte) {
			if len(data) != 1 || (data[0] != 1 && data[0] != 2) {
				c.addf("WebM TrackType %x at byte %d: only video (1) and audio (2) tracks are kept", data, at)
			}
		}},
		0xB9: leaf("FlagEnabled"), 0x88: leaf("FlagDefault"), 0x55AA: leaf("FlagForced"), 0x9C: leaf("FlagLacing"),
		0x23E383: leaf("DefaultDuration"), 0x86: leaf("CodecID"), 0x63A2: leaf("CodecPrivate"),
		0x56AA: leaf("CodecDelay"), 0x56BB: leaf("SeekPreRoll"), 0x22B59C: leaf("Language"),
		0xE0: master("Video", webmVideo), 0xE1: master("Audio", webmAudio),
		0x6D80: master("ContentEncodings", webmContentEncodings),
	}
	webmBlockGroup = map[uint32]*ebmlRule{
		0xA1: leaf("Block"), 0x9B: leaf("BlockDuration"), 0xFB: {name: "ReferenceBlock"}, 0x75A2: leaf("DiscardPadding"),
		0x75A1: master("BlockAdditions", map[uint32]*ebmlRule{
			0xA6: master("BlockMore", map[uint32]*ebmlRule{0xEE: leaf("BlockAddID"), 0xA5: leaf("BlockAdditional")}),
		}),
	}
	webmSegment = map[uint32]*ebmlRule{
		0x114D9B74: master("SeekHead", map[uint32]*ebmlRule{
			0x4DBB: master("Seek", map[uint32]*ebmlRule{
				0x53AB: {name: "SeekID", once: true, check: func(c *checker, at int, data []byte) {
					id := uint32(0)
					for _, b := range data {
						id = id<<8 | uint32(b)
					}
					switch id {
					case 0x1549A966, 0x1654AE6B, 0x1C53BB6B, 0x1F43B675:
					default:
						c.addf("WebM Seek at byte %d points at element %X", at, id)
					}
				}},
				0x53AC: leaf("SeekPosition"),
			}),
		}),
		0x1549A966: {name: "Info", once: true, children: map[uint32]*ebmlRule{
			0x2AD7B1: leaf("TimestampScale"), 0x4489: leaf("Duration"), 0x4461: leaf("DateUTC"),
		}},
		0x1654AE6B: {name: "Tracks", once: true, children: map[uint32]*ebmlRule{0xAE: master("TrackEntry", webmTrackEntry)}},
		0x1C53BB6B: {name: "Cues", once: true, children: map[uint32]*ebmlRule{
			0xBB: master("CuePoint", map[uint32]*ebmlRule{
				0xB3: leaf("CueTime"),
				0xB7: master("CueTrackPositions", map[uint32]*ebmlRule{
					0xF7: leaf("CueTrack"), 0xF1: leaf("CueClusterPosition"), 0xF0: leaf("CueRelativePosition"),
					0xB2: leaf("CueDuration"), 0x5378: leaf("CueBlockNumber"),
				}),
			}),
		}},
		0x1F43B675: master("Cluster", map[uint32]*ebmlRule{
			0xE7: leaf("Timestamp"), 0xA3: {name: "SimpleBlock"}, 0xA0: master("BlockGroup", webmBlockGroup),
		}),
	}
)

// webmNames names elements that are known but not allowed, for messages.
var webmNames = map[uint32]string{
	0x1254C367: "Tags", 0x1941A469: "Attachments", 0x1043A770: "Chapters", 0xEC: "Void", 0xBF: "CRC-32",
	0x7BA9: "Title", 0x4D80: "MuxingApp", 0x5741: "WritingApp", 0x73A4: "SegmentUID", 0x536E: "Name",
	0x258688: "CodecName", 0xA7: "Position", 0xAB: "PrevSize", 0x7373: "Tag", 0x1B538667: "SignatureSlot",
	0x5854: "SilentTracks", 0x2AD7B2: "TimestampScale", 0x6924: "ChapterTranslate", 0x7670: "Projection",
}

// webmName names an element ID.
func webmName(id uint32) string {
	if n, ok := webmNames[id]; ok {
		return n
	}
	return fmt.Sprintf("element %X", id)
}

// ebmlVint reads an EBML variable-size integer at p: its value (with the
// length marker kept when keepMarker, as for IDs), its length, and whether
// it is all ones (unknown size).
func ebmlVint(d []byte, p int, maxLen int, keepMarker bool) (v uint64, n int, allOnes, ok bool) {
	if p >= len(d) || d[p] == 0 {
		return 0, 0, false, false
	}
	n = 1
	for mask := byte(0x80); d[p]&mask == 0; mask >>= 1 {
		n++
	}
	if n > maxLen || p+n > len(d) {
		return 0, 0, false, false
	}
	first := uint64(d[p])
	if !keepMarker {
		first &^= 0x80 >> (n - 1)
	}
	v = first
	allOnes = first == uint64(0xFF>>n)
	for _, b := range d[p+1 : p+n] {
		v = v<<8 | uint64(b)
		allOnes = allOnes && b == 0xFF
	}
	return v, n, allOnes, true
}

// webm checks a WebM file.
func (c *checker) webm(d []byte) {
	p := 0
	id, n, _, ok := ebmlVint(d, p, 4, true)
	if !ok || id != 0x1A45DFA3 {
		c.addf("WebM does not start with an EBML header")
		return
	}
	end, ok := c.ebmlElement(d, p, n, len(d), "EBML header")
	if !ok {
		return
	}
	hdr := p + n
	if size, sn, _, _ := ebmlVint(d, hdr, 8, false); sn > 0 {
		c.ebmlChildren(d, hdr+sn, hdr+sn+int(size), webmHeader, "EBML header", 1)
	}
	p = end
	id, n, _, ok = ebmlVint(d, p, 4, true)
	if !ok || id != 0x18538067 {
		c.addf("WebM has %s at byte %d where the Segment belongs", webmName(uint32(id)), p)
		return
	}
	end, ok = c.ebmlElement(d, p, n, len(d), "Segment")
	if !ok {
		return
	}
	size, sn, _, _ := ebmlVint(d, p+n, 8, false)
	c.ebmlChildren(d, p+n+sn, p+n+sn+int(size), webmSegment, "Segment", 1)
	if end != len(d) {
		c.addf("WebM has %d bytes after its Segment", len(d)-end)
	}
}

// ebmlElement reads the size of the element whose ID (n bytes) starts at p,
// and returns where the element ends, or false (with a violation) when the
// size is unknown or runs past limit.
func (c *checker) ebmlElement(d []byte, p, n, limit int, name string) (int, bool) {
	size, sn, unknown, ok := ebmlVint(d, p+n, 8, false)
	if !ok {
		c.addf("WebM %s at byte %d has no readable size", name, p)
		return 0, false
	}
	if unknown {
		c.addf("WebM %s at byte %d has an unknown size", name, p)
		return 0, false
	}
	if size > uint64(limit-(p+n+sn)) {
		c.addf("WebM %s at byte %d has size %d past its parent", name, p, size)
		return 0, false
	}
	return p + n + sn + int(size), true
}

// ebmlChildren checks the elements in d[p:end] against rules.
func (c *checker) ebmlChildren(d []byte, p, end int, rules map[uint32]*ebmlRule, parent string, depth int) {
	if depth > 16 {
		c.addf("WebM nests deeper than 16 levels in %s", parent)
		return
	}
	count := map[uint32]int{}
	for p < end && c.step() {
		id, n, _, ok := ebmlVint(d[:end], p, 4, true)
		if !ok {
			c.addf("WebM %s holds bytes that are not an element ID at byte %d", parent, p)
			return
		}
		rule := rules[uint32(id)]
		name := webmName(uint32(id))
		if rule != nil {
			name = rule.name
		}
		next, ok := c.ebmlElement(d, p, n, end, name)
		if !ok {
			return
		}
		_, sn, _, _ := ebmlVint(d, p+n, 8, false)
		data := d[p+n+sn : next]
		count[uint32(id)]++
		switch {
		case rule == nil:
			c.addf("WebM %s holds %s at byte %d", parent, name, p)
		case rule.once && count[uint32(id)] > 1:
			c.addf("WebM %s holds a second %s at byte %d", parent, name, p)
		case rule.children != nil:
			c.ebmlChildren(d, p+n+sn, next, rule.children, rule.name, depth+1)
		case rule.check != nil:
			rule.check(c, p, data)
		}
		p = next
	}
}

// trimZeros drops the zero bytes that may pad an EBML string.
func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
