package ingest

import (
	"bytes"
	"encoding/binary"
)

// A rebuilt WebP is a RIFF file of "WEBP" and, for a simple file, its one
// VP8 or VP8L chunk; for an extended file:
//   - VP8X, its canvas size as it was and its flags rewritten to say what
//     is kept (ICC, alpha, EXIF, animation; never XMP);
//   - ICCP, the colour profile cleaned by keepICC, when the upload's flags
//     announce it (readers ignore it otherwise);
//   - ANIM and every ANMF frame, each frame's header followed by only its
//     ALPH and VP8 or VP8L sub-chunks; or, for a still picture, ALPH and
//     VP8, or VP8L;
//   - EXIF, rebuilt by exifKept from the first readable "EXIF" chunk.
//
// Everything else is dropped: XMP, unknown and vendor chunks (a chunk is
// known by its exact name: "exif" or "xmp " are unknown), second copies,
// sub-chunks of a frame other than its image, bytes after the last chunk
// and past the RIFF size. The image chunks are copied from the upload;
// everything around them is written anew, sizes and padding included.

// VP8X flags.
const (
	webpRebuildAnim  = 1 << 1
	webpRebuildEXIF  = 1 << 3
	webpRebuildAlpha = 1 << 4
	webpRebuildICC   = 1 << 5
)

// webpChunk is one chunk of the upload: its name, and its data's place.
type webpChunk struct {
	name      string
	off       int64 // of the chunk header
	data, n   int64 // the data, without the padding byte
	nextChunk int64
}

// webpChunks walks the chunks between from and end, calling fn on each.
func webpChunks(s *source, from, end int64, fn func(c webpChunk) error) error {
	for off := from; off < end; {
		if err := s.step(); err != nil {
			return err
		}
		if end-off < 8 {
			return nil // too short for a chunk: dropped with what follows
		}
		var h [8]byte
		if err := s.readAt(h[:], off); err != nil {
			return err
		}
		n := int64(binary.LittleEndian.Uint32(h[4:]))
		c := webpChunk{name: string(h[:4]), off: off, data: off + 8, n: n}
		if n > end-c.data {
			return malformed("WebP chunk %q at byte %d runs past its container", h[:4], off)
		}
		// The padding byte of an odd-sized chunk may be missing at the very
		// end; it is written anew either way.
		c.nextChunk = min(c.data+n+n&1, end)
		if err := fn(c); err != nil {
			return err
		}
		off = c.nextChunk
	}
	return nil
}

// rebuildWebP plans the rebuilt WebP.
func rebuildWebP(s *source, out *builder, info *Info, opt Options) error {
	var h [12]byte
	if s.size < 12 || s.readAt(h[:], 0) != nil || string(h[:4]) != "RIFF" || string(h[8:]) != "WEBP" {
		return malformed("not a WebP")
	}
	end := 8 + int64(binary.LittleEndian.Uint32(h[4:]))
	if end > s.size {
		return malformed("WebP shorter (%d bytes) than its RIFF size says (%d)", s.size, end)
	}
	if end < 12+8 {
		return malformed("WebP without chunks")
	}
	var first [8]byte
	if err := s.readAt(first[:], 12); err != nil {
		return err
	}
	var body builder
	switch string(first[:4]) {
	case "VP8 ", "VP8L":
		// A simple file is its one image chunk; whatever follows is not
		// read by decoders of the simple format.
		done := false
		err := webpChunks(s, 12, end, func(c webpChunk) error {
			if !done {
				done = true
				webpCopyChunk(&body, c)
			}
			return nil
		})
		if err != nil {
			return err
		}
	case "VP8X":
		if err := rebuildWebPExtended(s, &body, info, opt, end); err != nil {
			return err
		}
	default:
		return malformed("WebP starts with an unknown chunk %q", first[:4])
	}
	hdr := []byte("RIFF\x00\x00\x00\x00WEBP")
	binary.LittleEndian.PutUint32(hdr[4:], uint32(4+body.pos()))
	out.bytes(hdr)
	out.append(&body)
	return nil
}

// rebuildWebPExtended plans the chunks of an extended (VP8X) WebP.
func rebuildWebPExtended(s *source, body *builder, info *Info, opt Options, end int64) error {
	var (
		vp8x       []byte
		icc        []byte
		exif       *exifKept
		sawICC     bool
		sawEXIF    bool
		anim       []byte
		frames     builder
		nFrames    int
		alph       *webpChunk
		image      *webpChunk
		canvasW    int64
		canvasH    int64
		animated   bool
		frameAlpha bool
	)
	err := webpChunks(s, 12, end, func(c webpChunk) error {
		switch c.name {
		case "VP8X":
			if vp8x != nil {
				return malformed("WebP with a second VP8X at byte %d", c.off)
			}
			if c.n != 10 {
				return malformed("WebP VP8X of %d bytes", c.n)
			}
			p, err := s.load(c.data, 10)
			if err != nil {
				return err
			}
			vp8x = p
			canvasW, canvasH = 1+(int64(p[4])|int64(p[5])<<8|int64(p[6])<<16), 1+(int64(p[7])|int64(p[8])<<8|int64(p[9])<<16)
			if canvasW*canvasH > 1<<32-1 {
				return malformed("WebP canvas of %dx%d", canvasW, canvasH)
			}
			animated = p[0]&webpRebuildAnim != 0
		case "ICCP":
			if sawICC || vp8x[0]&webpRebuildICC == 0 {
				return nil // readers ignore a profile the flags do not announce
			}
			sawICC = true
			p, err := s.load(c.data, c.n)
			if err != nil {
				return err
			}
			icc = keepICC(p)
		case "EXIF":
			if sawEXIF {
				return nil
			}
			sawEXIF = true
			p, err := s.load(c.data, c.n)
			if err != nil {
				return err
			}
			if k, ok := readEXIF(bytes.TrimPrefix(p, []byte("Exif\x00\x00")), opt.KeepLocation); ok {
				exif = &k
			}
		case "ANIM":
			if !animated || anim != nil {
				return nil
			}
			if c.n != 6 {
				return malformed("WebP ANIM of %d bytes", c.n)
			}
			p, err := s.load(c.data, 6)
			if err != nil {
				return err
			}
			anim = p
		case "ANMF":
			if !animated {
				return nil
			}
			hasAlpha, err := webpFrame(s, &frames, c, canvasW, canvasH)
			if err != nil {
				return err
			}
			frameAlpha = frameAlpha || hasAlpha
			nFrames++
		case "ALPH":
			if !animated && alph == nil && image == nil {
				alph = &c
			}
		case "VP8 ", "VP8L":
			if animated || image != nil {
				return nil
			}
			w, hgt, err := webpImageSize(s, c)
			if err != nil {
				return err
			}
			if w != canvasW || hgt != canvasH {
				return malformed("WebP image of %dx%d on a canvas of %dx%d", w, hgt, canvasW, canvasH)
			}
			image = &c
		}
		// Anything else (XMP, unknown, vendor chunks) is dropped.
		return nil
	})
	if err != nil {
		return err
	}
	if vp8x == nil {
		return malformed("WebP without VP8X")
	}
	flags := byte(0)
	var pixels builder
	switch {
	case animated:
		if anim == nil || nFrames == 0 {
			return malformed("WebP animation without its ANIM chunk or frames")
		}
		flags |= webpRebuildAnim
		if vp8x[0]&webpRebuildAlpha != 0 || frameAlpha {
			flags |= webpRebuildAlpha
		}
		pixels.bytes(webpNewChunk("ANIM", anim))
		pixels.append(&frames)
	case image == nil:
		return malformed("WebP without image data")
	default:
		if alph != nil && image.name == "VP8 " {
			flags |= webpRebuildAlpha
			webpCopyChunk(&pixels, *alph)
		}
		if image.name == "VP8L" && webpLosslessAlpha(s, *image) {
			flags |= webpRebuildAlpha
		}
		webpCopyChunk(&pixels, *image)
	}
	if icc != nil {
		flags |= webpRebuildICC
	}
	keepEXIF := exif != nil && !exif.empty()
	if keepEXIF {
		flags |= webpRebuildEXIF
		info.Orientation = max(exif.orientation, 1)
		info.TakenTime = exif.taken
	}
	x := bytes.Clone(vp8x)
	x[0] = flags
	x[1], x[2], x[3] = 0, 0, 0
	body.bytes(webpNewChunk("VP8X", x))
	if icc != nil {
		body.bytes(webpNewChunk("ICCP", icc))
	}
	body.append(&pixels)
	if keepEXIF {
		body.bytes(webpNewChunk("EXIF", exif.tiff()))
	}
	return nil
}

// webpFrame appends a rebuilt ANMF chunk: its 16-byte header, then only the
// frame's ALPH (for VP8) and image sub-chunks. It reports whether the frame
// carries alpha.
func webpFrame(s *source, out *builder, c webpChunk, canvasW, canvasH int64) (bool, error) {
	if c.n < 16 {
		return false, malformed("WebP frame of %d bytes at byte %d", c.n, c.off)
	}
	hdr, err := s.load(c.data, 16)
	if err != nil {
		return false, err
	}
	u24 := func(p []byte) int64 { return int64(p[0]) | int64(p[1])<<8 | int64(p[2])<<16 }
	x, y, w, h := 2*u24(hdr), 2*u24(hdr[3:]), 1+u24(hdr[6:]), 1+u24(hdr[9:])
	if x+w > canvasW || y+h > canvasH {
		return false, malformed("WebP frame at byte %d does not fit the canvas", c.off)
	}
	var alph, image *webpChunk
	err = webpChunks(s, c.data+16, c.data+c.n, func(sub webpChunk) error {
		switch sub.name {
		case "ALPH":
			if alph == nil && image == nil {
				alph = &sub
			}
		case "VP8 ", "VP8L":
			if image == nil {
				image = &sub
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if image == nil {
		return false, malformed("WebP frame at byte %d without image data", c.off)
	}
	iw, ih, err := webpImageSize(s, *image)
	if err != nil {
		return false, err
	}
	if iw != w || ih != h {
		return false, malformed("WebP frame at byte %d of %dx%d holds an image of %dx%d", c.off, w, h, iw, ih)
	}
	var f builder
	f.bytes(hdr)
	hasAlpha := false
	if alph != nil && image.name == "VP8 " {
		webpCopyChunk(&f, *alph)
		hasAlpha = true
	}
	if image.name == "VP8L" && webpLosslessAlpha(s, *image) {
		hasAlpha = true
	}
	webpCopyChunk(&f, *image)
	size := make([]byte, 8)
	copy(size, "ANMF")
	binary.LittleEndian.PutUint32(size[4:], uint32(f.pos()))
	out.bytes(size)
	out.append(&f)
	return hasAlpha, nil
}

// webpImageSize reads the picture size from a VP8 or VP8L chunk's header.
func webpImageSize(s *source, c webpChunk) (w, h int64, err error) {
	var p [10]byte
	if c.name == "VP8L" {
		if c.n < 5 {
			return 0, 0, malformed("WebP VP8L chunk of %d bytes", c.n)
		}
		if err := s.readAt(p[:5], c.data); err != nil {
			return 0, 0, err
		}
		if p[0] != 0x2F {
			return 0, 0, malformed("WebP VP8L chunk without its signature at byte %d", c.off)
		}
		v := binary.LittleEndian.Uint32(p[1:5])
		return 1 + int64(v&0x3FFF), 1 + int64(v>>14&0x3FFF), nil
	}
	if c.n < 10 {
		return 0, 0, malformed("WebP VP8 chunk of %d bytes", c.n)
	}
	if err := s.readAt(p[:], c.data); err != nil {
		return 0, 0, err
	}
	if p[3] != 0x9D || p[4] != 0x01 || p[5] != 0x2A {
		return 0, 0, malformed("WebP VP8 chunk without a key frame at byte %d", c.off)
	}
	return int64(binary.LittleEndian.Uint16(p[6:]) & 0x3FFF), int64(binary.LittleEndian.Uint16(p[8:]) & 0x3FFF), nil
}

// webpLosslessAlpha reports the alpha_is_used bit of a VP8L chunk whose
// header webpImageSize has read.
func webpLosslessAlpha(s *source, c webpChunk) bool {
	var p [5]byte
	if s.readAt(p[:], c.data) != nil {
		return false
	}
	return p[4]&0x10 != 0
}

// webpCopyChunk appends a chunk of the upload with its header, and its
// padding byte written anew.
func webpCopyChunk(b *builder, c webpChunk) {
	b.copy(c.off, 8+c.n)
	if c.n&1 == 1 {
		b.bytes([]byte{0})
	}
}

// webpNewChunk is a chunk holding p, padded to an even size.
func webpNewChunk(name string, p []byte) []byte {
	c := make([]byte, 8, 8+len(p)+1)
	copy(c, name)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(p)))
	c = append(c, p...)
	if len(p)&1 == 1 {
		c = append(c, 0)
	}
	return c
}
