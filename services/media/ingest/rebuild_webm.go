package ingest

import (
	"bytes"
	"encoding/binary"
	"time"
)

// A rebuilt WebM is a fresh EBML header, then one Segment of known size
// holding, in this order:
//   - SeekHead, written anew to point at the kept Info, Tracks and Cues
//     (players find Cues, written last, through it);
//   - Info: TimestampScale, Duration and DateUTC (the capture time, kept on
//     purpose);
//   - Tracks: the video and audio TrackEntries only, each with the children
//     a decoder needs (numbers, flags, codec and its private data, delays,
//     language, picture and colour, sampling, content encodings);
//   - the Clusters: Timestamp, SimpleBlocks and BlockGroups (Block,
//     BlockDuration, ReferenceBlock, DiscardPadding, BlockAdditions) of the
//     kept tracks, block elements copied from the upload, never decoded;
//   - Cues: CueTime, and per kept track CueTrack, CueClusterPosition
//     (rewritten for the new clusters) and CueDuration.
//
// Everything else is dropped: Tags (where ffmpeg writes LOCATION),
// Attachments, Chapters, Title, MuxingApp, WritingApp, SegmentUID and file
// names, track Names, subtitle and metadata tracks and their blocks, Void
// and CRC-32 elements, the old SeekHead, PrevSize and Position, unknown
// elements, what follows the Segment and any second Segment.
//
// Live recordings (MediaRecorder) write a Segment and Clusters of unknown
// size; the rebuilt file always has known sizes. A cluster of unknown size
// ends where an element that cannot be its child starts (another Cluster,
// Cues, Tags, ...); a segment of unknown size ends at the end of the file
// or at a second EBML header or Segment.

// EBML and Matroska element IDs, marker bits included.
const (
	webmIDEBML               = 0x1A45DFA3
	webmIDEBMLVersion        = 0x4286
	webmIDEBMLReadVersion    = 0x42F7
	webmIDEBMLMaxIDLength    = 0x42F2
	webmIDEBMLMaxSizeLength  = 0x42F3
	webmIDDocType            = 0x4282
	webmIDDocTypeVersion     = 0x4287
	webmIDDocTypeReadVersion = 0x4285

	webmIDSegment      = 0x18538067
	webmIDSeekHead     = 0x114D9B74
	webmIDSeek         = 0x4DBB
	webmIDSeekID       = 0x53AB
	webmIDSeekPos      = 0x53AC
	webmIDInfo         = 0x1549A966
	webmIDDateUTC      = 0x4461
	webmIDTracks       = 0x1654AE6B
	webmIDTrackEntry   = 0xAE
	webmIDTrackNumber  = 0xD7
	webmIDTrackType    = 0x83
	webmIDCodecPrivate = 0x63A2
	webmIDCues         = 0x1C53BB6B
	webmIDCuePoint     = 0xBB
	webmIDCueTime      = 0xB3
	webmIDCueTrackPos  = 0xB7
	webmIDCueTrack     = 0xF7
	webmIDCueCluster   = 0xF1
	webmIDCueDuration  = 0xB2
	webmIDCluster      = 0x1F43B675
	webmIDTimestamp    = 0xE7
	webmIDSimpleBlock  = 0xA3
	webmIDBlockGroup   = 0xA0
	webmIDBlock        = 0xA1
	webmIDTags         = 0x1254C367
	webmIDAttachments  = 0x1941A469
	webmIDChapters     = 0x1043A770
)

// webmKind says how a kept element is checked and written.
type webmKind uint8

const (
	webmMaster  webmKind = iota + 1 // walked, its kept children written anew
	webmUint                        // unsigned or signed integer: 0-8 bytes
	webmFloat                       // 0, 4 or 8 bytes
	webmDate                        // 0 or 8 bytes
	webmString                      // short text: codec IDs, languages
	webmBinary                      // metadata bytes a decoder needs (CodecPrivate)
	webmPayload                     // coded media: never bounded, never read
)

// webmAllow is the allowlist: for each kept master element, the children
// kept and their kind. A child not listed is dropped.
var webmAllow = map[uint32]map[uint32]webmKind{
	webmIDInfo: {
		0x2AD7B1:      webmUint,  // TimestampScale
		0x4489:        webmFloat, // Duration
		webmIDDateUTC: webmDate,
	},
	webmIDTrackEntry: {
		webmIDTrackNumber: webmUint,
		0x73C5:            webmUint, // TrackUID
		webmIDTrackType:   webmUint,
		0xB9:              webmUint,   // FlagEnabled
		0x88:              webmUint,   // FlagDefault
		0x55AA:            webmUint,   // FlagForced
		0x9C:              webmUint,   // FlagLacing
		0x23E383:          webmUint,   // DefaultDuration
		0x55EE:            webmUint,   // MaxBlockAdditionID, for BlockAdditions
		0x86:              webmString, // CodecID
		0x63A2:            webmBinary, // CodecPrivate
		0x56AA:            webmUint,   // CodecDelay
		0x56BB:            webmUint,   // SeekPreRoll
		0x22B59C:          webmString, // Language
		0xE0:              webmMaster, // Video
		0xE1:              webmMaster, // Audio
		0x6D80:            webmMaster, // ContentEncodings
	},
	0xE0: { // Video
		0xB0:   webmUint,   // PixelWidth
		0xBA:   webmUint,   // PixelHeight
		0x54B0: webmUint,   // DisplayWidth
		0x54BA: webmUint,   // DisplayHeight
		0x54B2: webmUint,   // DisplayUnit
		0x54AA: webmUint,   // PixelCropBottom
		0x54BB: webmUint,   // PixelCropTop
		0x54CC: webmUint,   // PixelCropLeft
		0x54DD: webmUint,   // PixelCropRight
		0x9A:   webmUint,   // FlagInterlaced
		0x9D:   webmUint,   // FieldOrder
		0x53B8: webmUint,   // StereoMode
		0x53C0: webmUint,   // AlphaMode
		0x55B0: webmMaster, // Colour
	},
	0x55B0: { // Colour
		0x55B1: webmUint,   // MatrixCoefficients
		0x55B2: webmUint,   // BitsPerChannel
		0x55B3: webmUint,   // ChromaSubsamplingHorz
		0x55B4: webmUint,   // ChromaSubsamplingVert
		0x55B5: webmUint,   // CbSubsamplingHorz
		0x55B6: webmUint,   // CbSubsamplingVert
		0x55B7: webmUint,   // ChromaSitingHorz
		0x55B8: webmUint,   // ChromaSitingVert
		0x55B9: webmUint,   // Range
		0x55BA: webmUint,   // TransferCharacteristics
		0x55BB: webmUint,   // Primaries
		0x55BC: webmUint,   // MaxCLL
		0x55BD: webmUint,   // MaxFALL
		0x55D0: webmMaster, // MasteringMetadata
	},
	0x55D0: { // MasteringMetadata: chromaticities and luminance
		0x55D1: webmFloat, 0x55D2: webmFloat, 0x55D3: webmFloat, 0x55D4: webmFloat,
		0x55D5: webmFloat, 0x55D6: webmFloat, 0x55D7: webmFloat, 0x55D8: webmFloat,
		0x55D9: webmFloat, 0x55DA: webmFloat,
	},
	0xE1: { // Audio
		0xB5:   webmFloat, // SamplingFrequency
		0x78B5: webmFloat, // OutputSamplingFrequency
		0x9F:   webmUint,  // Channels
		0x6264: webmUint,  // BitDepth
	},
	0x6D80: {0x6240: webmMaster}, // ContentEncodings: ContentEncoding
	0x6240: { // ContentEncoding
		0x5031: webmUint,   // ContentEncodingOrder
		0x5032: webmUint,   // ContentEncodingScope
		0x5033: webmUint,   // ContentEncodingType
		0x5034: webmMaster, // ContentCompression
		0x5035: webmMaster, // ContentEncryption
	},
	0x5034: {0x4254: webmUint, 0x4255: webmBinary},                     // ContentCompAlgo, ContentCompSettings
	0x5035: {0x47E1: webmUint, 0x47E2: webmBinary, 0x47E7: webmMaster}, // ContentEncAlgo, ContentEncKeyID, ContentEncAESSettings
	0x47E7: {0x47E8: webmUint},                                         // AESSettingsCipherMode
	webmIDBlockGroup: {
		webmIDBlock: webmPayload,
		0x9B:        webmUint,   // BlockDuration
		0xFB:        webmUint,   // ReferenceBlock
		0x75A2:      webmUint,   // DiscardPadding
		0x75A1:      webmMaster, // BlockAdditions
	},
	0x75A1: {0xA6: webmMaster},                  // BlockAdditions: BlockMore
	0xA6:   {0xEE: webmUint, 0xA5: webmPayload}, // BlockAddID, BlockAdditional
}

// webmLevel1 are the IDs that end a cluster of unknown size: the Segment's
// children, and the top-level EBML header and Segment.
var webmLevel1 = map[uint32]bool{
	webmIDSeekHead: true, webmIDInfo: true, webmIDTracks: true, webmIDCues: true,
	webmIDCluster: true, webmIDTags: true, webmIDAttachments: true, webmIDChapters: true,
	webmIDEBML: true, webmIDSegment: true,
}

const (
	// webmMaxDepth bounds the nesting of kept master elements below the
	// Segment (Tracks/TrackEntry/Video/Colour/MasteringMetadata is 5).
	webmMaxDepth = 8
	// webmMaxString bounds a kept text element.
	webmMaxString = 256
)

// webmDateEpoch is where Matroska's DateUTC counts from.
var webmDateEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

// webmElem is one element of the upload: its ID, where it starts, where its
// payload starts and ends. unknown marks an unknown size (end is then set
// by the caller).
type webmElem struct {
	id               uint32
	start, data, end int64
	unknown          bool
}

func (e webmElem) size() int64 { return e.end - e.data }

// webmCueTrack is one kept CueTrackPositions: track, the cluster as an
// offset in the rebuilt clusters, and CueDuration when hasDur.
type webmCueTrack struct {
	track   uint64
	cluster int64
	dur     uint64
	hasDur  bool
}

// webmCuePoint is one kept CuePoint.
type webmCuePoint struct {
	time      uint64
	hasTime   bool
	positions []webmCueTrack
}

// webmRebuild carries one WebM rebuild.
type webmRebuild struct {
	s *source
	// tracks maps every track number in Tracks to whether it is kept.
	tracks map[uint64]bool
}

// rebuildWebM plans the rebuilt WebM.
func rebuildWebM(s *source, out *builder, info *Info, opt Options) error {
	w := &webmRebuild{s: s, tracks: map[uint64]bool{}}
	head, err := w.elem(0, s.size)
	if err != nil {
		return err
	}
	if head.id != webmIDEBML || head.unknown {
		return malformed("WebM without an EBML header")
	}
	header, err := w.header(head)
	if err != nil {
		return err
	}
	// The first Segment is the film; elements before it (Void) are
	// skipped, anything after it is dropped.
	for off := head.end; ; {
		if off >= s.size {
			return malformed("WebM without a Segment")
		}
		e, err := w.elem(off, s.size)
		if err != nil {
			return err
		}
		if e.id == webmIDSegment {
			if e.unknown {
				e.end = s.size
			}
			body, err := w.segment(e, info)
			if err != nil {
				return err
			}
			out.bytes(header)
			out.bytes(webmHeader(webmIDSegment, body.n))
			out.append(body)
			return nil
		}
		if e.unknown {
			return malformed("WebM element %X of unknown size at byte %d", e.id, e.start)
		}
		off = e.end
	}
}

// elem reads the element header at off, inside its parent ending at limit.
func (w *webmRebuild) elem(off, limit int64) (webmElem, error) {
	if err := w.s.step(); err != nil {
		return webmElem{}, err
	}
	if limit-off < 2 {
		return webmElem{}, malformed("WebM element at byte %d runs past its parent", off)
	}
	var h [12]byte
	n := min(int64(len(h)), limit-off)
	if err := w.s.readAt(h[:n], off); err != nil {
		return webmElem{}, err
	}
	id, k := ebmlID(h[:n])
	if k == 0 {
		return webmElem{}, malformed("WebM has an invalid element ID at byte %d", off)
	}
	size, m := ebmlVint(h[k:n])
	if m == 0 {
		return webmElem{}, malformed("WebM element %X at byte %d has an invalid size", id, off)
	}
	e := webmElem{id: id, start: off, data: off + int64(k+m)}
	if size < 0 {
		e.unknown, e.end = true, limit
		return e, nil
	}
	if size > limit-e.data {
		return webmElem{}, malformed("WebM element %X at byte %d runs past its parent or the file", id, off)
	}
	e.end = e.data + size
	return e, nil
}

// known reads a child element that must have a known size.
func (w *webmRebuild) known(off, limit int64) (webmElem, error) {
	e, err := w.elem(off, limit)
	if err == nil && e.unknown {
		err = malformed("WebM element %X of unknown size at byte %d", e.id, e.start)
	}
	return e, err
}

// uint reads an unsigned integer element.
func (w *webmRebuild) uint(e webmElem) (uint64, error) {
	if e.size() > 8 {
		return 0, malformed("WebM integer %X at byte %d has %d bytes", e.id, e.start, e.size())
	}
	var b [8]byte
	if err := w.s.readAt(b[8-e.size():], e.data); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// header reads the EBML header and writes a fresh one: DocType webm with
// the upload's DocType versions, the EBML defaults for the rest.
func (w *webmRebuild) header(head webmElem) ([]byte, error) {
	version, readVersion := uint64(1), uint64(1)
	docType := ""
	for off := head.data; off < head.end; {
		e, err := w.known(off, head.end)
		if err != nil {
			return nil, err
		}
		switch e.id {
		case webmIDDocType:
			if e.size() > webmMaxString {
				return nil, malformed("WebM DocType of %d bytes", e.size())
			}
			p, err := w.s.load(e.data, e.size())
			if err != nil {
				return nil, err
			}
			for len(p) > 0 && p[len(p)-1] == 0 {
				p = p[:len(p)-1]
			}
			docType = string(p)
		case webmIDDocTypeVersion, webmIDDocTypeReadVersion:
			v, err := w.uint(e)
			if err != nil {
				return nil, err
			}
			if v == 0 || v > 255 {
				return nil, malformed("WebM DocType version %d", v)
			}
			if e.id == webmIDDocTypeVersion {
				version = v
			} else {
				readVersion = v
			}
		}
		off = e.end
	}
	if docType != "webm" {
		return nil, malformed("EBML DocType %q is not webm", docType)
	}
	var b []byte
	b = webmAppendUint(b, webmIDEBMLVersion, 1)
	b = webmAppendUint(b, webmIDEBMLReadVersion, 1)
	b = webmAppendUint(b, webmIDEBMLMaxIDLength, 4)
	b = webmAppendUint(b, webmIDEBMLMaxSizeLength, 8)
	b = append(append(b, webmHeader(webmIDDocType, 4)...), "webm"...)
	b = webmAppendUint(b, webmIDDocTypeVersion, version)
	b = webmAppendUint(b, webmIDDocTypeReadVersion, readVersion)
	return append(webmHeader(webmIDEBML, int64(len(b))), b...), nil
}

// segment walks the Segment and returns the rebuilt Segment's payload.
func (w *webmRebuild) segment(seg webmElem, info *Info) (*builder, error) {
	var infoE, tracksE, cuesE *webmElem
	var clusters []webmElem
	for off := seg.data; off < seg.end; {
		e, err := w.elem(off, seg.end)
		if err != nil {
			return nil, err
		}
		if seg.unknown && (e.id == webmIDEBML || e.id == webmIDSegment) {
			break // a second Segment: dropped with all that follows
		}
		switch {
		case e.id == webmIDCluster:
			if e.unknown {
				if e.end, err = w.clusterEnd(e, seg.end); err != nil {
					return nil, err
				}
			}
			clusters = append(clusters, e)
		case e.unknown:
			return nil, malformed("WebM element %X of unknown size at byte %d", e.id, e.start)
		case e.id == webmIDInfo && infoE == nil:
			infoE = &e
		case e.id == webmIDTracks && tracksE == nil:
			tracksE = &e
		case e.id == webmIDCues && cuesE == nil:
			cuesE = &e
		}
		// Everything else (SeekHead, Tags, Attachments, Chapters, Void,
		// CRC-32, unknown, duplicates) is skipped, never copied.
		off = e.end
	}
	if tracksE == nil {
		return nil, malformed("WebM without Tracks")
	}

	var infoB builder
	if infoE != nil {
		if err := w.keep(*infoE, 1, &infoB); err != nil {
			return nil, err
		}
		if err := w.takenTime(*infoE, info); err != nil {
			return nil, err
		}
	} else {
		infoB.bytes(webmHeader(webmIDInfo, 0))
	}
	var tracksB builder
	if err := w.keepTracks(*tracksE, &tracksB); err != nil {
		return nil, err
	}

	// Clusters, with where each old one went (offsets in clustersB).
	var clustersB builder
	moved := map[int64]int64{}
	for _, c := range clusters {
		at := clustersB.pos()
		kept, err := w.cluster(c, &clustersB)
		if err != nil {
			return nil, err
		}
		if kept {
			moved[c.start-seg.data] = at
		}
	}

	var cues []webmCuePoint
	if cuesE != nil {
		var err error
		if cues, err = w.cues(*cuesE, moved); err != nil {
			return nil, err
		}
	}

	// Layout: SeekHead, Info, Tracks, Clusters, Cues. Seek positions are
	// written on 8 bytes so that the SeekHead's size does not depend on
	// them.
	targets := []uint32{webmIDInfo, webmIDTracks}
	if len(cues) > 0 {
		targets = append(targets, webmIDCues)
	}
	seekLen := int64(len(webmSeekHead(targets, make([]int64, len(targets)))))
	infoAt := seekLen
	tracksAt := infoAt + infoB.n
	clustersAt := tracksAt + tracksB.n
	cuesAt := clustersAt + clustersB.n

	body := &builder{}
	body.bytes(webmSeekHead(targets, []int64{infoAt, tracksAt, cuesAt}))
	body.append(&infoB)
	body.append(&tracksB)
	body.append(&clustersB)
	if len(cues) > 0 {
		body.bytes(webmCues(cues, clustersAt))
	}
	return body, nil
}

// clusterEnd finds where a cluster of unknown size ends: at the first
// element that cannot be its child, or at its parent's end.
func (w *webmRebuild) clusterEnd(c webmElem, limit int64) (int64, error) {
	off := c.data
	for off < limit {
		e, err := w.elem(off, limit)
		if err != nil {
			return 0, err
		}
		if webmLevel1[e.id] {
			break
		}
		if e.unknown {
			return 0, malformed("WebM element %X of unknown size at byte %d", e.id, e.start)
		}
		off = e.end
	}
	return off, nil
}

// takenTime sets info.TakenTime from Info/DateUTC.
func (w *webmRebuild) takenTime(infoE webmElem, info *Info) error {
	for off := infoE.data; off < infoE.end; {
		e, err := w.known(off, infoE.end)
		if err != nil {
			return err
		}
		if e.id == webmIDDateUTC && e.size() == 8 {
			v, err := w.uint(e)
			if err != nil {
				return err
			}
			if ts := webmDateEpoch.Add(time.Duration(int64(v))); ts.Year() >= 1900 && ts.Year() <= 2200 {
				info.TakenTime = ts
			}
			return nil
		}
		off = e.end
	}
	return nil
}

// keep writes e anew with only its allowlisted children, depth levels below
// the Segment: masters walked and rebuilt, other elements checked and
// copied from the upload with their header.
func (w *webmRebuild) keep(e webmElem, depth int, out *builder) error {
	if depth > webmMaxDepth {
		return malformed("WebM elements nested deeper than %d levels", webmMaxDepth)
	}
	allow := webmAllow[e.id]
	var b builder
	for off := e.data; off < e.end; {
		c, err := w.known(off, e.end)
		if err != nil {
			return err
		}
		off = c.end
		kind := allow[c.id]
		n := c.size()
		switch kind {
		case 0:
			continue // not on the allowlist: dropped
		case webmMaster:
			if err := w.keep(c, depth+1, &b); err != nil {
				return err
			}
			continue
		case webmUint:
			if n > 8 {
				return malformed("WebM integer %X at byte %d has %d bytes", c.id, c.start, n)
			}
		case webmFloat:
			if n != 0 && n != 4 && n != 8 {
				return malformed("WebM float %X at byte %d has %d bytes", c.id, c.start, n)
			}
		case webmDate:
			if n != 0 && n != 8 {
				return malformed("WebM date %X at byte %d has %d bytes", c.id, c.start, n)
			}
		case webmString:
			if n > webmMaxString {
				return malformed("WebM text %X at byte %d has %d bytes", c.id, c.start, n)
			}
		case webmBinary:
			if n > maxBlock {
				return malformed("WebM element %X at byte %d has %d bytes (the limit is %d)", c.id, c.start, n, maxBlock)
			}
			if c.id == webmIDCodecPrivate {
				d, err := w.s.load(c.data, n)
				if err != nil {
					return err
				}
				if kept, ok := keepVorbisPrivate(d); ok {
					b.bytes(append(webmHeader(c.id, int64(len(kept))), kept...))
					continue
				}
			}
		}
		b.copy(c.start, c.end-c.start)
	}
	out.bytes(webmHeader(e.id, b.n))
	out.append(&b)
	return nil
}

// keepTracks writes the Tracks element with the video and audio tracks,
// and records every track number and whether it is kept.
func (w *webmRebuild) keepTracks(tracks webmElem, out *builder) error {
	var b builder
	for off := tracks.data; off < tracks.end; {
		e, err := w.known(off, tracks.end)
		if err != nil {
			return err
		}
		off = e.end
		if e.id != webmIDTrackEntry {
			continue
		}
		var number, typ uint64
		for o := e.data; o < e.end; {
			c, err := w.known(o, e.end)
			if err != nil {
				return err
			}
			o = c.end
			if c.id != webmIDTrackNumber && c.id != webmIDTrackType {
				continue
			}
			v, err := w.uint(c)
			if err != nil {
				return err
			}
			if v == 0 {
				return malformed("WebM track at byte %d has a zero number or type", e.start)
			}
			p := &number
			if c.id == webmIDTrackType {
				p = &typ
			}
			if *p != 0 {
				return malformed("WebM track at byte %d has two numbers or types", e.start)
			}
			*p = v
		}
		if number == 0 || typ == 0 {
			return malformed("WebM track at byte %d without a number or type", e.start)
		}
		if _, dup := w.tracks[number]; dup {
			return malformed("WebM has two tracks numbered %d", number)
		}
		keep := typ == 1 || typ == 2 // video, audio
		w.tracks[number] = keep
		if keep {
			if err := w.keep(e, 2, &b); err != nil {
				return err
			}
		}
	}
	if len(w.tracks) == 0 {
		return malformed("WebM without tracks")
	}
	if b.n == 0 {
		return malformed("WebM without a video or audio track")
	}
	out.bytes(webmHeader(webmIDTracks, b.n))
	out.append(&b)
	return nil
}

// blockTrack reads the track number a SimpleBlock or Block is for, and
// whether it is kept; a track not in Tracks is malformed.
func (w *webmRebuild) blockTrack(e webmElem) (bool, error) {
	var h [11]byte
	n := min(int64(len(h)), e.size())
	if err := w.s.readAt(h[:n], e.data); err != nil {
		return false, err
	}
	track, k := ebmlVint(h[:n])
	if k == 0 || track < 0 || e.size() < int64(k)+3 { // then timecode, flags
		return false, malformed("WebM block at byte %d has an invalid header", e.start)
	}
	kept, ok := w.tracks[uint64(track)]
	if !ok {
		return false, malformed("WebM block at byte %d for track %d, which is not in Tracks", e.start, track)
	}
	return kept, nil
}

// cluster writes a cluster holding its Timestamp and the blocks of kept
// tracks; a cluster left without blocks is dropped (kept is false).
func (w *webmRebuild) cluster(c webmElem, out *builder) (kept bool, err error) {
	var ts *webmElem
	var b builder
	for off := c.data; off < c.end; {
		e, err := w.known(off, c.end)
		if err != nil {
			return false, err
		}
		off = e.end
		switch e.id {
		case webmIDTimestamp:
			if ts != nil {
				return false, malformed("WebM cluster at byte %d has two timestamps", c.start)
			}
			if e.size() > 8 {
				return false, malformed("WebM cluster timestamp at byte %d has %d bytes", e.start, e.size())
			}
			ts = &e
		case webmIDSimpleBlock:
			keep, err := w.blockTrack(e)
			if err != nil {
				return false, err
			}
			if keep {
				b.copy(e.start, e.end-e.start)
			}
		case webmIDBlockGroup:
			var block *webmElem
			for o := e.data; o < e.end; {
				g, err := w.known(o, e.end)
				if err != nil {
					return false, err
				}
				o = g.end
				if g.id == webmIDBlock {
					if block != nil {
						return false, malformed("WebM block group at byte %d has two blocks", e.start)
					}
					block = &g
				}
			}
			if block == nil {
				continue // nothing to play: dropped
			}
			keep, err := w.blockTrack(*block)
			if err != nil {
				return false, err
			}
			if keep {
				if err := w.keep(e, 2, &b); err != nil {
					return false, err
				}
			}
		}
		// PrevSize, Position, Void, CRC-32 and unknown elements: dropped.
	}
	if ts == nil {
		return false, malformed("WebM cluster at byte %d without a timestamp", c.start)
	}
	if b.n == 0 {
		return false, nil
	}
	var body builder
	body.copy(ts.start, ts.end-ts.start)
	body.append(&b)
	out.bytes(webmHeader(webmIDCluster, body.n))
	out.append(&body)
	return true, nil
}

// cues reads the Cues, keeping the positions of kept tracks in clusters
// that were kept, with the clusters' new offsets from moved.
func (w *webmRebuild) cues(cues webmElem, moved map[int64]int64) ([]webmCuePoint, error) {
	var points []webmCuePoint
	for off := cues.data; off < cues.end; {
		p, err := w.known(off, cues.end)
		if err != nil {
			return nil, err
		}
		off = p.end
		if p.id != webmIDCuePoint {
			continue
		}
		var point webmCuePoint
		for o := p.data; o < p.end; {
			c, err := w.known(o, p.end)
			if err != nil {
				return nil, err
			}
			o = c.end
			switch c.id {
			case webmIDCueTime:
				if point.time, err = w.uint(c); err != nil {
					return nil, err
				}
				point.hasTime = true
			case webmIDCueTrackPos:
				pos, ok, err := w.cueTrack(c, moved)
				if err != nil {
					return nil, err
				}
				if ok {
					point.positions = append(point.positions, pos)
				}
			}
		}
		if point.hasTime && len(point.positions) > 0 {
			points = append(points, point)
		}
	}
	return points, nil
}

// cueTrack reads one CueTrackPositions; ok is false when its track or
// cluster was dropped (or never existed).
func (w *webmRebuild) cueTrack(tp webmElem, moved map[int64]int64) (webmCueTrack, bool, error) {
	var pos webmCueTrack
	var haveTrack, haveCluster bool
	for off := tp.data; off < tp.end; {
		c, err := w.known(off, tp.end)
		if err != nil {
			return pos, false, err
		}
		off = c.end
		switch c.id {
		case webmIDCueTrack, webmIDCueCluster:
			v, err := w.uint(c)
			if err != nil {
				return pos, false, err
			}
			if c.id == webmIDCueTrack {
				pos.track, haveTrack = v, true
			} else if at, ok := moved[int64(min(v, 1<<62))]; ok {
				pos.cluster, haveCluster = at, true
			}
		case webmIDCueDuration:
			if pos.dur, err = w.uint(c); err != nil {
				return pos, false, err
			}
			pos.hasDur = true
		}
	}
	return pos, haveTrack && haveCluster && w.tracks[pos.track], nil
}

// webmCues writes the Cues element; cluster offsets are relative to the
// first cluster, which starts clustersAt bytes into the Segment's payload.
func webmCues(points []webmCuePoint, clustersAt int64) []byte {
	var cues []byte
	for _, p := range points {
		point := webmAppendUint(nil, webmIDCueTime, p.time)
		for _, pos := range p.positions {
			var tp []byte
			tp = webmAppendUint(tp, webmIDCueTrack, pos.track)
			tp = webmAppendUint(tp, webmIDCueCluster, uint64(clustersAt+pos.cluster))
			if pos.hasDur {
				tp = webmAppendUint(tp, webmIDCueDuration, pos.dur)
			}
			point = append(append(point, webmHeader(webmIDCueTrackPos, int64(len(tp)))...), tp...)
		}
		cues = append(append(cues, webmHeader(webmIDCuePoint, int64(len(point)))...), point...)
	}
	return append(webmHeader(webmIDCues, int64(len(cues))), cues...)
}

// webmSeekHead writes a SeekHead pointing at the elements ids at the
// offsets at (from the Segment's payload), each on 8 bytes.
func webmSeekHead(ids []uint32, at []int64) []byte {
	var head []byte
	for i, id := range ids {
		var seek []byte
		idb := webmIDBytes(id)
		seek = append(append(seek, webmHeader(webmIDSeekID, int64(len(idb)))...), idb...)
		seek = append(seek, webmHeader(webmIDSeekPos, 8)...)
		seek = binary.BigEndian.AppendUint64(seek, uint64(at[i]))
		head = append(append(head, webmHeader(webmIDSeek, int64(len(seek)))...), seek...)
	}
	return append(webmHeader(webmIDSeekHead, int64(len(head))), head...)
}

// webmIDBytes is an element ID as written in the file.
func webmIDBytes(id uint32) []byte {
	switch {
	case id > 0xFFFFFF:
		return binary.BigEndian.AppendUint32(nil, id)
	case id > 0xFFFF:
		return []byte{byte(id >> 16), byte(id >> 8), byte(id)}
	case id > 0xFF:
		return []byte{byte(id >> 8), byte(id)}
	}
	return []byte{byte(id)}
}

// webmHeader is an element header: its ID and its payload size as the
// shortest size vint (all ones, which means unknown, avoided).
func webmHeader(id uint32, size int64) []byte {
	b := webmIDBytes(id)
	k := 1
	for k < 8 && uint64(size) >= 1<<(7*k)-1 {
		k++
	}
	v := uint64(size) | 1<<(7*k)
	for i := k - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// webmAppendUint appends an unsigned integer element in as few bytes as
// hold its value (at least one).
func webmAppendUint(b []byte, id uint32, v uint64) []byte {
	n := 1
	for n < 8 && v>>(8*n) != 0 {
		n++
	}
	b = append(b, webmHeader(id, int64(n))...)
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// keepVorbisPrivate rewrites a Vorbis CodecPrivate (three Xiph-laced
// header packets: identification, comment, setup) with an empty comment
// packet: Vorbis comments are free-form tags ("LOCATION=...") a decoder
// does not need. ok is false for anything else, which is kept as it is.
func keepVorbisPrivate(d []byte) (out []byte, ok bool) {
	if len(d) < 3 || d[0] != 2 {
		return nil, false
	}
	var sizes [2]int
	p := 1
	for i := range sizes {
		for p < len(d) {
			sizes[i] += int(d[p])
			p++
			if d[p-1] != 255 {
				break
			}
		}
	}
	id, rest := d[p:], []byte(nil)
	if sizes[0]+sizes[1] > len(id) {
		return nil, false
	}
	id, rest = id[:sizes[0]], id[sizes[0]:]
	comment, setup := rest[:sizes[1]], rest[sizes[1]:]
	if !bytes.HasPrefix(id, []byte("\x01vorbis")) || !bytes.HasPrefix(comment, []byte("\x03vorbis")) || !bytes.HasPrefix(setup, []byte("\x05vorbis")) {
		return nil, false
	}
	// No vendor, no comments, the framing bit.
	empty := []byte("\x03vorbis\x00\x00\x00\x00\x00\x00\x00\x00\x01")
	out = []byte{2}
	for _, n := range []int{len(id), len(empty)} {
		for ; n >= 255; n -= 255 {
			out = append(out, 255)
		}
		out = append(out, byte(n))
	}
	out = append(append(append(out, id...), empty...), setup...)
	return out, true
}
