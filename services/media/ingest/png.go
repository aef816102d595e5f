package ingest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"strconv"
)

// PNG is a signature then chunks: length, type, data, CRC-32 of type and
// data. Every chunk edited here gets its CRC recomputed, or decoders (Go's
// image/png included) would reject the file.
//
// Metadata may follow IDAT (ImageMagick writes eXIf there), so the walk runs
// to IEND. Location can hide in:
//   - eXIf: a TIFF block (some writers prefix "Exif\0\0");
//   - iTXt "XML:com.adobe.xmp": an XMP packet;
//   - tEXt/zTXt/iTXt "Raw profile type exif|APP1|xmp": ImageMagick's
//     hex-encoded EXIF or XMP ("\nexif\n   1234\n4578696600...");
//   - text chunks named after a property ("exif:GPSLatitude",
//     "photoshop:City"): ImageMagick copies each EXIF/XMP property into one.
//
// Uncompressed text is cleaned in place (hex is decoded, cleaned and
// re-encoded digit for digit). Compressed text cannot be rewritten at the
// same size, so a compressed chunk holding location, or one that does not
// decompress, is dropped: renamed to pngDropped and zeroed.

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngDropped is the type given to dropped chunks: ancillary (lower-case
// first letter) and private (lower-case second), so every decoder skips it,
// reserved bit clear (upper-case third) as the spec requires, safe to copy.
var pngDropped = [4]byte{'k', 'b', 'R', 'm'}

func (j *job) png() error {
	var sig [8]byte
	if j.size < 8 {
		return malformed("PNG shorter than its signature")
	}
	if err := j.readAt(sig[:], 0); err != nil {
		return err
	}
	if !bytes.Equal(sig[:], pngSignature) {
		return malformed("PNG signature missing")
	}
	off := int64(8)
	for {
		if err := j.step(); err != nil {
			return err
		}
		var h [8]byte
		if j.size-off < 12 {
			return malformed("PNG truncated at %d", off)
		}
		if err := j.readAt(h[:], off); err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		if n > 1<<31-1 || n > j.size-off-12 {
			return malformed("PNG chunk at %d runs past the end", off)
		}
		typ := string(h[4:8])
		data := off + 8
		var err error
		switch typ {
		case "IEND":
			return nil
		case "eXIf":
			err = j.pngEXIf(data, n)
		case "tEXt", "zTXt", "iTXt":
			err = j.pngText(typ, data, n)
		}
		if err != nil {
			return err
		}
		off = data + n + 4
	}
}

// pngEXIf cleans an eXIf chunk and fixes its CRC.
func (j *job) pngEXIf(data, n int64) error {
	if n > maxBlock {
		return malformed("PNG eXIf chunk larger than %d bytes", maxBlock)
	}
	b, err := j.load(region{{data, n}})
	if err != nil {
		return err
	}
	skip := 0
	if bytes.HasPrefix(b, exifHeader) {
		skip = len(exifHeader)
	}
	if j.inspect {
		if j.readTIFF(b[skip:]) {
			return errFound
		}
		return nil
	}
	cur := bytes.Clone(b)
	cleanEXIF(cur[skip:])
	return j.pngRewrite(data, "eXIf", b, cur)
}

// pngRewrite writes a chunk's edited data and its new CRC, if anything
// changed.
func (j *job) pngRewrite(data int64, typ string, old, cur []byte) error {
	if bytes.Equal(old, cur) {
		return nil
	}
	if err := j.writeAt(cur, data); err != nil {
		return err
	}
	j.changed = true
	return j.writeAt(pngCRC([]byte(typ), cur), data+int64(len(cur)))
}

func pngCRC(typ, data []byte) []byte {
	crc := crc32.NewIEEE()
	crc.Write(typ)
	crc.Write(data)
	return binary.BigEndian.AppendUint32(nil, crc.Sum32())
}

// pngDrop renames the chunk whose n bytes of data start at data to
// pngDropped, zeroes the data and fixes the CRC.
func (j *job) pngDrop(data, n int64) error {
	if err := j.writeAt(pngDropped[:], data-4); err != nil {
		return err
	}
	j.changed = true
	if err := j.zero(data, n); err != nil {
		return err
	}
	return j.pngFixCRC(data-4, n)
}

// pngText handles tEXt, zTXt and iTXt chunks.
func (j *job) pngText(typ string, data, n int64) error {
	if n > maxBlock {
		// Too large to inspect in memory, and far larger than any real text
		// metadata: drop it rather than refuse the image.
		if j.inspect {
			return nil
		}
		return j.pngDrop(data, n)
	}
	b, err := j.load(region{{data, n}})
	if err != nil {
		return err
	}
	kw, text, compressed, ok := pngTextFields(typ, b)
	if !ok {
		// Not a valid text chunk: strict decoders ignore it, and lenient
		// ones must not find anything in it either.
		if j.inspect {
			return nil
		}
		return j.pngDrop(data, n)
	}
	if isLocationName([]byte(kw)) {
		// ImageMagick also copies each EXIF/XMP property into a text chunk
		// of its own ("exif:GPSLatitude", "photoshop:City").
		if j.inspect {
			return nil
		}
		return j.pngDrop(data, n)
	}
	if compressed {
		return j.pngCompressedText(data, n, kw, text)
	}
	cur := bytes.Clone(b)
	// text aliases b; find the same range in cur.
	t := cur[len(b)-len(text):]
	if j.inspect {
		if kind, ok := rawProfileKind(kw); ok && kind == "exif" {
			if raw, ok := decodeRawProfile(bytes.Clone(text)); ok {
				if j.readTIFF(trimExifHeader(raw)) {
					return errFound
				}
			}
		}
		return nil
	}
	cleanText(kw, t)
	return j.pngRewrite(data, typ, b, cur)
}

// pngFixCRC recomputes the CRC of the chunk whose type starts at typeOff and
// whose data is n bytes, reading the data in pieces.
func (j *job) pngFixCRC(typeOff, n int64) error {
	crc := crc32.NewIEEE()
	buf := make([]byte, min(n+4, 32<<10))
	for off, left := typeOff, n+4; left > 0; {
		k := min(left, int64(len(buf)))
		if err := j.readAt(buf[:k], off); err != nil {
			return err
		}
		crc.Write(buf[:k])
		off += k
		left -= k
	}
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc.Sum32())
	return j.writeAt(c[:], typeOff+4+n)
}

// pngTextFields splits a text chunk into keyword and text, and tells whether
// the text is zlib-compressed.
func pngTextFields(typ string, b []byte) (kw string, text []byte, compressed bool, ok bool) {
	z := bytes.IndexByte(b, 0)
	if z < 1 || z > 79 {
		return "", nil, false, false
	}
	kw, rest := string(b[:z]), b[z+1:]
	switch typ {
	case "tEXt":
		return kw, rest, false, true
	case "zTXt":
		if len(rest) < 1 {
			return "", nil, false, false
		}
		return kw, rest[1:], true, true // compression method byte, then data
	case "iTXt":
		// compression flag, method, language tag\0, translated keyword\0, text
		if len(rest) < 2 {
			return "", nil, false, false
		}
		flag := rest[0]
		rest = rest[2:]
		for range 2 {
			k := bytes.IndexByte(rest, 0)
			if k < 0 {
				return "", nil, false, false
			}
			rest = rest[k+1:]
		}
		return kw, rest, flag != 0, true
	}
	return "", nil, false, false
}

// pngCompressedText inspects a compressed text chunk and drops it when it
// holds location, or when it does not decompress (a lenient reader might
// still get something out of it, and it is not worth the risk).
func (j *job) pngCompressedText(data int64, n int64, kw string, z []byte) error {
	kind, raw := rawProfileKind(kw)
	if j.inspect && (!raw || kind != "exif") {
		return nil
	}
	text, err := inflate(z)
	if j.inspect {
		if err == nil {
			if prof, ok := decodeRawProfile(text); ok {
				if j.readTIFF(trimExifHeader(prof)) {
					return errFound
				}
			}
		}
		return nil
	}
	if err != nil {
		return j.pngDrop(data, n)
	}
	cleaned := bytes.Clone(text)
	cleanText(kw, cleaned)
	if bytes.Equal(cleaned, text) {
		return nil
	}
	return j.pngDrop(data, n)
}

// inflate decompresses zlib data, refusing more than maxBlock bytes of
// output (a small chunk can expand a thousandfold).
func inflate(z []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	text, err := io.ReadAll(io.LimitReader(zr, maxBlock+1))
	if err != nil {
		return nil, err
	}
	if len(text) > maxBlock {
		return nil, io.ErrShortBuffer
	}
	return text, nil
}

// cleanText cleans the text of a PNG text chunk in place according to its
// keyword: raw profiles are hex-decoded EXIF, XMP or IPTC, anything else is
// treated as possible XMP (harmless on plain text, which has no location
// tags for the scanner to find).
func cleanText(kw string, t []byte) {
	kind, ok := rawProfileKind(kw)
	if !ok {
		cleanXMP(t)
		return
	}
	switch kind {
	case "exif", "xmp", "iptc", "8bim":
	default:
		return // ICC and other profiles carry no location
	}
	raw, ok := decodeRawProfile(t)
	if !ok {
		if kind == "exif" {
			// An EXIF profile we cannot decode cannot be vouched for.
			fillSpaces(t)
		}
		return
	}
	orig := bytes.Clone(raw)
	switch {
	case kind == "exif":
		cleanEXIF(trimExifHeader(raw))
	case kind == "xmp":
		cleanXMP(raw)
	case bytes.HasPrefix(raw, []byte("8BIM")):
		cleanIRB(raw) // ImageMagick's iptc profile is Photoshop resources
	case bytes.HasPrefix(raw, photoshopHeader):
		cleanIRB(raw[len(photoshopHeader):])
	default:
		cleanIPTC(raw)
	}
	// Re-encode only on change: the digits' case may differ from ours.
	if !bytes.Equal(orig, raw) {
		encodeRawProfile(t, raw)
	}
}

// rawProfileKind recognises ImageMagick's "Raw profile type NAME" keywords.
// APP1 profiles are EXIF with the "Exif\0\0" header.
func rawProfileKind(kw string) (string, bool) {
	const p = "Raw profile type "
	if len(kw) <= len(p) || kw[:len(p)] != p {
		return "", false
	}
	switch k := kw[len(p):]; k {
	case "exif", "APP1":
		return "exif", true
	default:
		return k, true
	}
}

func trimExifHeader(b []byte) []byte {
	if bytes.HasPrefix(b, exifHeader) {
		return b[len(exifHeader):]
	}
	return b
}

// decodeRawProfile decodes ImageMagick's raw profile text: a newline, the
// profile name, a newline, the decimal length (space padded), a newline, then
// hex digits broken into lines. The decoded bytes are returned in a new
// slice; encodeRawProfile writes them back over the same digits.
func decodeRawProfile(t []byte) ([]byte, bool) {
	digits, ok := rawProfileDigits(t)
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, len(digits)/2)
	for i := 0; i+1 < len(digits); i += 2 {
		var pair [2]byte
		pair[0], pair[1] = t[digits[i]], t[digits[i+1]]
		var v [1]byte
		if _, err := hex.Decode(v[:], pair[:]); err != nil {
			return nil, false
		}
		out = append(out, v[0])
	}
	return out, true
}

// rawProfileDigits returns the positions of the profile's hex digits after
// checking the header; the digit count must cover the stated length.
func rawProfileDigits(t []byte) ([]int, bool) {
	// Skip the header's three lines.
	p := 0
	for p < len(t) && isSpace(t[p]) {
		p++
	}
	nl := bytes.IndexByte(t[p:], '\n') // end of the name line
	if nl < 0 {
		return nil, false
	}
	p += nl + 1
	for p < len(t) && (t[p] == ' ' || t[p] == '\t') {
		p++
	}
	q := p
	for q < len(t) && t[q] >= '0' && t[q] <= '9' {
		q++
	}
	n, err := strconv.Atoi(string(t[p:q]))
	if err != nil || n < 0 || n > len(t) {
		return nil, false
	}
	digits := make([]int, 0, 2*n)
	for i := q; i < len(t) && len(digits) < 2*n; i++ {
		c := t[i]
		switch {
		case isSpace(c):
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			digits = append(digits, i)
		default:
			return nil, false
		}
	}
	if len(digits) < 2*n {
		return nil, false
	}
	return digits, true
}

// encodeRawProfile writes raw back over the hex digits of t, keeping every
// line break in its place.
func encodeRawProfile(t, raw []byte) {
	digits, ok := rawProfileDigits(t)
	if !ok || len(digits) < 2*len(raw) {
		return
	}
	const hexDigits = "0123456789abcdef"
	for i, v := range raw {
		t[digits[2*i]] = hexDigits[v>>4]
		t[digits[2*i+1]] = hexDigits[v&0x0F]
	}
}
