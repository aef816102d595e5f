package mediacheck

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// traces are byte strings that betray the fixtures' location (the Eiffel
// Tower: 48.8584 N, 2.2945 E) in the encodings the tools write.
var traces = [][]byte{
	[]byte("48.8584"), []byte("2.2945"), // ISO 6709 strings, decimal XMP
	[]byte("48,51.5"), []byte("2,17.6"), // XMP degrees,minutes
	[]byte("GPSLatitude"), []byte("GPSLongitude"), []byte("GPSAltitude"),
	[]byte("Paris"), []byte("France"),
	[]byte("5061726973"),              // "Paris" in ImageMagick's hex raw profiles
	[]byte("\xa9xyz"), []byte("loci"), // QuickTime and 3GPP location atoms
	// EXIF GPSLatitude as three RATIONALs, 48/1 51/1, in either byte order.
	{0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1},
	{48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0},
}

// Find returns every trace of the fixtures' location found in a file. It is
// deliberately blunt: instead of walking containers it searches the whole
// file (and every zlib stream in a PNG text chunk) for the traces the
// fixtures in services/media/ingest/testdata were made with (see make.sh
// there), and for EXIF blocks that link a GPS directory.
func Find(data []byte) []string {
	var found []string
	scan := func(where string, b []byte) {
		for _, tr := range traces {
			if bytes.Contains(b, tr) {
				found = append(found, fmt.Sprintf("%s: %q", where, tr))
			}
		}
		for _, t := range tiffBlocks(b) {
			if GPSLinked(t) {
				found = append(found, where+": EXIF with a GPS IFD link")
			}
		}
	}
	scan("file", data)
	streams, whole := pngZlibStreams(data)
	for i, z := range streams {
		scan(fmt.Sprintf("zlib stream %d", i), z)
	}
	if !whole {
		// Fail closed: what was not inflated was not searched.
		found = append(found, fmt.Sprintf("PNG text inflates past %d bytes in all: the rest was not searched", maxZlibText))
	}
	return found
}

// tiffBlocks returns every suffix of b that starts with a TIFF header: an
// EXIF block may sit anywhere, raw or hex-decoded.
func tiffBlocks(b []byte) [][]byte {
	var out [][]byte
	for _, sig := range [][]byte{[]byte("II*\x00"), []byte("MM\x00*")} {
		for i := 0; ; {
			k := bytes.Index(b[i:], sig)
			if k < 0 {
				break
			}
			out = append(out, b[i+k:])
			i += k + 1
		}
	}
	// ImageMagick's hex raw profiles.
	for _, sig := range []string{"4949", "4d4d"} {
		for i := 0; ; {
			k := bytes.Index(b[i:], []byte(sig))
			if k < 0 {
				break
			}
			if dec := unhex(b[i+k:]); len(dec) > 8 {
				out = append(out, dec)
			}
			i += k + 1
		}
	}
	return out
}

func unhex(b []byte) []byte {
	var out []byte
	var hi int = -1
	for _, c := range b {
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'a' && c <= 'f':
			v = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			v = int(c-'A') + 10
		case c == '\n' || c == ' ':
			continue
		default:
			return out
		}
		if hi < 0 {
			hi = v
		} else {
			out = append(out, byte(hi<<4|v))
			hi = -1
		}
	}
	return out
}

// GPSLinked reports whether IFD0, IFD1 or the Exif IFD of a TIFF block holds
// a GPSInfo (0x8825) entry.
func GPSLinked(t []byte) bool {
	if len(t) < 8 {
		return false
	}
	var bo binary.ByteOrder = binary.BigEndian
	if t[0] == 'I' {
		bo = binary.LittleEndian
	}
	entries := func(off uint32) [][]byte {
		if int64(off)+2 > int64(len(t)) {
			return nil
		}
		n := int(bo.Uint16(t[off:]))
		var es [][]byte
		for i := range n {
			p := int64(off) + 2 + 12*int64(i)
			if p+12 > int64(len(t)) {
				break
			}
			es = append(es, t[p:p+12])
		}
		return es
	}
	ifd0 := bo.Uint32(t[4:])
	dirs := []uint32{ifd0}
	if es := entries(ifd0); es != nil {
		// Follow IFD1 only from a whole IFD0: after a cut-short table the
		// "link" would be bytes of an entry.
		p := int64(ifd0) + 2 + 12*int64(len(es))
		if len(es) == int(bo.Uint16(t[ifd0:])) && p+4 <= int64(len(t)) {
			dirs = append(dirs, bo.Uint32(t[p:]))
		}
		for _, e := range es {
			if bo.Uint16(e) == 0x8769 {
				dirs = append(dirs, bo.Uint32(e[8:]))
			}
		}
	}
	for i, d := range dirs {
		if i > 0 && d < 8 {
			continue // 0 means "none"; below 8 is the header
		}
		for _, e := range entries(d) {
			if bo.Uint16(e) == 0x8825 {
				return true
			}
		}
	}
	return false
}

// maxZlibText bounds what the text chunks of one PNG may inflate to, in
// all, before pngZlibStreams stops.
const maxZlibText = 64 << 20

// pngZlibStreams inflates the text of every zTXt and compressed iTXt chunk
// of a PNG, which a byte search of the file cannot see into, up to
// maxZlibText in all; whole is false when it stopped there.
func pngZlibStreams(b []byte) (out [][]byte, whole bool) {
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		return nil, true
	}
	left := int64(maxZlibText)
	for p := 8; p+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		if n < 0 || p+12+n > len(b) {
			break
		}
		typ, data := string(b[p+4:p+8]), b[p+8:p+8+n]
		p += 12 + n
		if typ != "zTXt" && typ != "iTXt" {
			continue
		}
		// Find the zlib header after the keyword rather than parse fields.
		for i := 0; i+2 < len(data); i++ {
			if data[i] == 0x78 && (uint16(data[i])<<8|uint16(data[i+1]))%31 == 0 {
				if zr, err := zlib.NewReader(bytes.NewReader(data[i:])); err == nil {
					text, err := io.ReadAll(io.LimitReader(zr, left+1))
					if int64(len(text)) > left {
						return out, false
					}
					left -= int64(len(text))
					if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
						out = append(out, text)
						break
					}
				}
			}
		}
	}
	return out, true
}
