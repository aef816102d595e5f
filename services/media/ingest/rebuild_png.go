package ingest

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// A rebuilt PNG is the signature, IHDR, then the chunks written anew:
//   - iCCP, the colour profile: inflated (within the file's memory budget),
//     cleaned by keepICC, deflated again and named "ICC profile";
//   - eXIf, rebuilt by exifKept from the first readable EXIF chunk;
//
// then the kept chunks copied from the upload in their original order:
//   - PLTE, IDAT (one run of consecutive chunks) and, for APNG, acTL, fcTL
//     and fdAT;
//   - the ancillary chunks that only say how to show the pixels: tRNS, gAMA,
//     cHRM, sRGB, cICP, mDCv, cLLi, sBIT, bKGD, pHYs, each at the size the
//     specification gives it (a chunk of another size could carry anything);
//
// and a fresh IEND. Everything else is dropped: text (tEXt, zTXt, iTXt, so
// XMP and ImageMagick's raw profiles), tIME, unknown and private chunks,
// second copies of a chunk that may appear once, the chunks that must
// precede IDAT when they follow it, and whatever follows IEND.
//
// Every compressed chunk (iCCP, zTXt, compressed iTXt), kept or dropped,
// is inflated against the file's one budget (source.inflate): what is
// dropped is measured into nothing, and a file whose compressed chunks
// together inflate past the budget is refused.
//
// Every kept chunk's CRC is checked, IDAT included: a chunk that does not
// match its CRC is damaged, and the file is refused rather than stored with
// a part no decoder accepts.

// pngRebuildSig is the PNG signature.
const pngRebuildSig = "\x89PNG\r\n\x1a\n"

// pngIEND is the whole IEND chunk: no data, so a fixed CRC.
var pngIEND = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}

// pngICCName is the profile name every rebuilt iCCP carries.
const pngICCName = "ICC profile"

// pngSizes are the sizes the kept ancillary chunks may have (tRNS is
// checked against the colour type). fdAT is payload and any size of at
// least its sequence number.
var pngSizes = map[string][]int64{
	"gAMA": {4}, "cHRM": {32}, "sRGB": {1}, "cICP": {4}, "mDCv": {24}, "cLLi": {8},
	"sBIT": {1, 2, 3, 4}, "bKGD": {1, 2, 6}, "pHYs": {9}, "acTL": {8}, "fcTL": {26},
}

// pngBeforeIDAT are the kept chunks that must come before the image data;
// after it they are ignored by readers, and dropped here.
var pngBeforeIDAT = map[string]bool{
	"PLTE": true, "tRNS": true, "gAMA": true, "cHRM": true, "sRGB": true, "cICP": true,
	"mDCv": true, "cLLi": true, "sBIT": true, "bKGD": true, "pHYs": true, "acTL": true,
}

// rebuildPNG plans the rebuilt PNG.
func rebuildPNG(s *source, out *builder, info *Info, opt Options) error {
	var sig [8]byte
	if s.size < 8 || s.readAt(sig[:], 0) != nil || string(sig[:]) != pngRebuildSig {
		return malformed("not a PNG")
	}
	var (
		ihdrAt    int64 = -1
		colorType byte
		icc       []byte // the rebuilt iCCP chunk
		exif      *exifKept
		sawICC    bool
		sawEXIF   bool
		seen      = map[string]bool{} // kept chunks that may appear once
		body      builder             // PLTE, IDAT and the rest, in order
		idat      int                 // 0 before IDAT, 1 in the run, 2 after it
		crcBuf    []byte
	)
	off := int64(8)
	for {
		if err := s.step(); err != nil {
			return err
		}
		var h [8]byte
		if s.size-off < 12 {
			return malformed("PNG ends at byte %d before its IEND chunk", off)
		}
		if err := s.readAt(h[:], off); err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		typ := string(h[4:8])
		if n > 1<<31-1 || n > s.size-off-12 {
			return malformed("PNG chunk %q at byte %d runs past the end of the file", h[4:8], off)
		}
		if !pngChunkType(h[4:8]) {
			return malformed("PNG chunk at byte %d has an invalid type %q", off, h[4:8])
		}
		data, next := off+8, off+12+n
		if ihdrAt < 0 && typ != "IHDR" {
			return malformed("PNG does not start with IHDR")
		}
		if idat == 1 && typ != "IDAT" {
			idat = 2
		}
		// check verifies the CRC of a chunk that is kept.
		check := func() error {
			if crcBuf == nil {
				crcBuf = make([]byte, 64<<10)
			}
			crc := crc32.Update(0, crc32.IEEETable, h[4:8])
			for p := data; p < next-4; {
				k := min(int64(len(crcBuf)), next-4-p)
				if err := s.readAt(crcBuf[:k], p); err != nil {
					return err
				}
				crc = crc32.Update(crc, crc32.IEEETable, crcBuf[:k])
				p += k
			}
			var want [4]byte
			if err := s.readAt(want[:], next-4); err != nil {
				return err
			}
			if binary.BigEndian.Uint32(want[:]) != crc {
				return malformed("PNG chunk %q at byte %d fails its CRC", typ, off)
			}
			return nil
		}
		switch typ {
		case "IHDR":
			if ihdrAt >= 0 {
				return malformed("PNG with a second IHDR at byte %d", off)
			}
			if n != 13 {
				return malformed("PNG IHDR of %d bytes", n)
			}
			if err := check(); err != nil {
				return err
			}
			var b [1]byte
			if err := s.readAt(b[:], data+9); err != nil {
				return err
			}
			ihdrAt, colorType = off, b[0]
		case "IEND":
			if n != 0 {
				return malformed("PNG IEND with %d bytes of data", n)
			}
			if err := check(); err != nil {
				return err
			}
			if idat == 0 {
				return malformed("PNG without image data")
			}
			out.bytes([]byte(pngRebuildSig))
			out.copy(ihdrAt, 8+13+4)
			if icc != nil {
				out.bytes(icc)
			}
			if exif != nil && !exif.empty() {
				info.Orientation = max(exif.orientation, 1)
				info.TakenTime = exif.taken
				out.bytes(pngChunk("eXIf", exif.tiff()))
			}
			out.append(&body)
			out.bytes(pngIEND)
			return nil // what follows IEND is not part of the picture
		case "PLTE":
			if seen[typ] || idat != 0 {
				return malformed("PNG palette out of place at byte %d", off)
			}
			if n == 0 || n%3 != 0 || n > 3*256 {
				return malformed("PNG palette of %d bytes", n)
			}
			if err := check(); err != nil {
				return err
			}
			seen[typ] = true
			body.copy(off, next-off)
		case "IDAT":
			if idat == 2 {
				return malformed("PNG image data split at byte %d", off)
			}
			if err := check(); err != nil {
				return err
			}
			idat = 1
			body.copy(off, next-off)
		case "fdAT":
			if n < 4 || idat == 0 {
				break // frame data before the first frame: dropped
			}
			if err := check(); err != nil {
				return err
			}
			body.copy(off, next-off)
		case "iCCP":
			if sawICC || idat != 0 {
				// A second profile, or one after the pixels: measured, dropped.
				if err := pngMeasure(s, typ, data, n); err != nil {
					return err
				}
				break
			}
			sawICC = true
			p, err := s.load(data, n)
			if err != nil {
				return err
			}
			if err := check(); err != nil {
				return err
			}
			profile, err := pngInflateICC(s, p)
			if err != nil {
				return err
			}
			if kept := keepICC(profile); kept != nil {
				icc, err = pngICCP(kept)
				if err != nil {
					return err
				}
			}
		case "zTXt", "iTXt":
			if err := pngMeasure(s, typ, data, n); err != nil { // then dropped
				return err
			}
		case "eXIf":
			if sawEXIF {
				break
			}
			sawEXIF = true
			p, err := s.load(data, n)
			if err != nil {
				return err
			}
			if err := check(); err != nil {
				return err
			}
			if k, ok := readEXIF(bytes.TrimPrefix(p, []byte("Exif\x00\x00")), opt.KeepLocation); ok {
				exif = &k
			}
		default:
			if !pngKeepAncillary(typ, n, colorType) || seen[typ] || (idat != 0 && pngBeforeIDAT[typ]) {
				break // dropped: never read, never copied
			}
			if err := check(); err != nil {
				return err
			}
			if typ != "fcTL" {
				seen[typ] = true
			}
			body.copy(off, next-off)
		}
		off = next
	}
}

// pngChunkType reports whether t is made of ASCII letters, as chunk types
// must be.
func pngChunkType(t []byte) bool {
	for _, c := range t {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// pngKeepAncillary reports whether an ancillary chunk of type typ and n
// bytes is on the allowlist at that size.
func pngKeepAncillary(typ string, n int64, colorType byte) bool {
	if typ == "tRNS" {
		switch colorType {
		case 0:
			return n == 2
		case 2:
			return n == 6
		case 3:
			return n >= 1 && n <= 256
		}
		return false
	}
	for _, k := range pngSizes[typ] {
		if n == k {
			return true
		}
	}
	return false
}

// pngInflateICC decompresses an iCCP chunk's profile against the file's
// budgets. A profile that does not decompress is dropped (nil): it is not
// needed to show the pixels.
func pngInflateICC(s *source, p []byte) ([]byte, error) {
	i := bytes.IndexByte(p, 0)
	if i < 1 || i > 79 || len(p) < i+2 || p[i+1] != 0 {
		return nil, nil
	}
	profile, ok, err := s.inflate("PNG colour profile", bytes.NewReader(p[i+2:]), true)
	if err != nil || !ok {
		return nil, err
	}
	return profile, nil
}

// pngMeasure inflates the compressed part of a chunk that is dropped
// (zTXt, compressed iTXt, an extra iCCP) into nothing, against the file's
// budget, straight from the file. A chunk whose fields do not parse, or
// whose stream is not zlib, is dropped all the same.
func pngMeasure(s *source, typ string, data, n int64) error {
	br := bufio.NewReaderSize(io.NewSectionReader(s.r, data, n), 4096)
	if !skipPastNUL(br) { // keyword, or profile name
		return nil
	}
	switch typ {
	case "iTXt":
		var flags [2]byte
		if _, err := io.ReadFull(br, flags[:]); err != nil || flags[0] == 0 {
			return nil // text not compressed: nothing to inflate
		}
		if !skipPastNUL(br) || !skipPastNUL(br) { // language tag, translated keyword
			return nil
		}
	default: // zTXt, iCCP: the compression method
		if _, err := br.ReadByte(); err != nil {
			return nil
		}
	}
	_, _, err := s.inflate("PNG "+typ+" chunk", br, false)
	return err
}

// skipPastNUL reads up to and including the next NUL byte, without
// holding what it skips; false when there is none.
func skipPastNUL(br *bufio.Reader) bool {
	for {
		_, err := br.ReadSlice(0)
		if err == nil {
			return true
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return false
		}
	}
}

// pngICCP is an iCCP chunk holding the profile p under the fixed name.
func pngICCP(p []byte) ([]byte, error) {
	var z bytes.Buffer
	z.WriteString(pngICCName + "\x00\x00")
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(p); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return pngChunk("iCCP", z.Bytes()), nil
}

// pngChunk is a whole chunk: length, type, data and CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}
