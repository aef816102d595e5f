package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind is the broad family of an accepted upload.
type Kind int

// The kinds of accepted uploads. The zero Kind is no kind: Sniff never
// returns it with a nil error.
const (
	Image Kind = iota + 1
	Video
)

// String returns a lower-case name for logs and metrics labels.
func (k Kind) String() string {
	switch k {
	case Image:
		return "image"
	case Video:
		return "video"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Type is what Sniff found a file to be.
type Type struct {
	// ContentType is the media type to store and serve the file with.
	ContentType string
	// Kind is the broad family, for thumbnailing and quotas.
	Kind Kind
	// Ext is the canonical file name extension, with its dot (".jpg").
	Ext string
}

// SniffLen is how many leading bytes Sniff wants; fewer are fine for a file
// that is shorter.
const SniffLen = 512

// ErrNotAllowed reports content outside the allow-list. Errors returned by
// Sniff wrap it together with what the content looks like.
var ErrNotAllowed = errors.New("content type not allowed")

// NotAllowedError is the error Sniff returns for refused content. It matches
// ErrNotAllowed with errors.Is.
type NotAllowedError struct {
	// Looks names what the content looks like ("HTML", "ELF executable",
	// "unknown binary"), for the message shown to the uploader.
	Looks string
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("%v: content looks like %s", ErrNotAllowed, e.Looks)
}

// Is makes errors.Is(err, ErrNotAllowed) hold.
func (e *NotAllowedError) Is(target error) bool { return target == ErrNotAllowed }

func refuse(looks string) (Type, error) { return Type{}, &NotAllowedError{Looks: looks} }

// The allowed types. Content types are the registered ones, so browsers and
// the thumbnailer agree on them.
var (
	typeJPEG = Type{"image/jpeg", Image, ".jpg"}
	typePNG  = Type{"image/png", Image, ".png"}
	typeGIF  = Type{"image/gif", Image, ".gif"}
	typeWebP = Type{"image/webp", Image, ".webp"}
	typeHEIC = Type{"image/heic", Image, ".heic"}
	typeHEIF = Type{"image/heif", Image, ".heif"}
	typeMP4  = Type{"video/mp4", Video, ".mp4"}
	type3GP  = Type{"video/3gpp", Video, ".3gp"}
	typeMOV  = Type{"video/quicktime", Video, ".mov"}
	typeWebM = Type{"video/webm", Video, ".webm"}
)

// Sniff decides what a file is from its first bytes (pass at least SniffLen
// of them, or the whole file if it is shorter). It never looks at a name or a
// declared content type, which the client controls.
//
// Allowed: JPEG, PNG, GIF, WebP, HEIC/HEIF still images, MP4 (and 3GP, the
// same container from older phones), QuickTime and WebM: the types whose
// structure Rebuild can rebuild from an allowlist and that have a thumbnail
// path. Everything else is refused
// with an error wrapping ErrNotAllowed that names what the content looks like
// when it is recognisable (HTML, SVG/XML, executables and scripts, archives).
//
// Signatures must sit at offset 0: browsers and some tools skip leading
// whitespace or junk before markup, so a file that only contains a signature
// further in is not trusted to be what it claims.
func Sniff(head []byte) (Type, error) {
	if len(head) == 0 {
		return refuse("an empty file")
	}
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return typeJPEG, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return typePNG, nil
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return typeGIF, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return typeWebP, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF":
		return refuse(fmt.Sprintf("a RIFF %q file", head[8:12]))
	case bytes.HasPrefix(head, []byte("%PDF-")):
		// A PDF carries XMP, embedded images and scripts that cannot be
		// rebuilt from an allowlist without rendering it: a scanned
		// worksheet is uploaded as a photo instead.
		return refuse("a PDF document")
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return sniffEBML(head)
	case len(head) >= 8 && string(head[4:8]) == "ftyp":
		return sniffFtyp(head)
	}
	if t, ok := sniffLegacyQuickTime(head); ok {
		return t, nil
	}
	return refuse(lookalike(head))
}

// brandClass groups ISO base media file format brands by what they promise.
type brandClass int

const (
	brandUnknown brandClass = iota
	brandHEIC               // HEVC-coded still image(s)
	brandHEICSeq            // HEVC-coded image sequence
	brandHEIF               // generic HEIF still image (codec unspecified)
	brandHEIFSeq            // generic HEIF image sequence
	brandAVIF               // AV1 image: not on the allow-list
	brandMP4
	brand3GP
	brandMOV
	brandAudio // audio-only MPEG-4 (M4A, audio books): not on the allow-list
)

var brands = map[string]brandClass{
	"heic": brandHEIC, "heix": brandHEIC, "heim": brandHEIC, "heis": brandHEIC,
	"hevc": brandHEICSeq, "hevx": brandHEICSeq, "hevm": brandHEICSeq, "hevs": brandHEICSeq,
	"mif1": brandHEIF, "mif2": brandHEIF,
	"msf1": brandHEIFSeq,
	"avif": brandAVIF, "avis": brandAVIF,
	"isom": brandMP4, "iso2": brandMP4, "iso3": brandMP4, "iso4": brandMP4, "iso5": brandMP4,
	"iso6": brandMP4, "iso7": brandMP4, "iso8": brandMP4, "iso9": brandMP4,
	"mp41": brandMP4, "mp42": brandMP4, "mp71": brandMP4, "avc1": brandMP4, "dash": brandMP4,
	"M4V ": brandMP4, "M4VH": brandMP4, "M4VP": brandMP4, "cmfc": brandMP4, "XAVC": brandMP4,
	"MSNV": brandMP4, "f4v ": brandMP4,
	"3gp4": brand3GP, "3gp5": brand3GP, "3gp6": brand3GP, "3gp7": brand3GP, "3gp8": brand3GP,
	"3gp9": brand3GP, "3g2a": brand3GP, "3g2b": brand3GP, "3g2c": brand3GP,
	"qt  ": brandMOV,
	"M4A ": brandAudio, "M4B ": brandAudio, "M4P ": brandAudio, "F4A ": brandAudio, "F4B ": brandAudio,
}

// sniffFtyp classifies an ISO base media file by its ftyp box: the major
// brand decides, except that the generic HEIF brands defer to a more specific
// compatible brand (an AVIF file is "mif1" + "avif"; an iPhone HEIC may list
// "mif1" first), and an unknown major brand defers to the first known one.
func sniffFtyp(head []byte) (Type, error) {
	size := int(binary.BigEndian.Uint32(head))
	if size < 16 && size != 0 && len(head) >= 12 {
		return refuse("a malformed ISO media file")
	}
	if len(head) < 12 {
		return refuse("a truncated ISO media file")
	}
	end := size
	if end == 0 || end > len(head) {
		end = len(head)
	}
	major := brands[string(head[8:12])]
	var compat []brandClass
	for i := 16; i+4 <= end; i += 4 {
		if c, ok := brands[string(head[i:i+4])]; ok {
			compat = append(compat, c)
		}
	}
	class := major
	switch major {
	case brandHEIF, brandHEIFSeq, brandUnknown:
		for _, c := range compat {
			if c == brandHEIC || c == brandHEICSeq || c == brandAVIF || (major == brandUnknown && c != brandUnknown) {
				class = c
				break
			}
		}
	}
	switch class {
	case brandHEIC:
		return typeHEIC, nil
	case brandHEIF:
		return typeHEIF, nil
	case brandHEICSeq, brandHEIFSeq:
		// Image sequences (bursts, animations) are films in a HEIF
		// container: no thumbnailer here reads them.
		return refuse("a HEIF image sequence")
	case brandMP4:
		return typeMP4, nil
	case brand3GP:
		return type3GP, nil
	case brandMOV:
		return typeMOV, nil
	case brandAVIF:
		return refuse("an AVIF image")
	case brandAudio:
		return refuse("MPEG-4 audio")
	}
	return refuse(fmt.Sprintf("an ISO media file of unknown brand %q", head[8:12]))
}

// sniffLegacyQuickTime accepts QuickTime files written before ftyp existed,
// which start directly with one of a few top-level atoms. The atom's size
// must be plausible, so that text which merely starts with "....free" is not
// taken for a movie.
func sniffLegacyQuickTime(head []byte) (Type, bool) {
	if len(head) < 8 {
		return Type{}, false
	}
	switch string(head[4:8]) {
	case "moov", "mdat", "wide", "free", "skip", "pnot":
	default:
		return Type{}, false
	}
	size := binary.BigEndian.Uint32(head)
	if size == 1 { // 64-bit size follows
		return typeMOV, len(head) < 16 || binary.BigEndian.Uint64(head[8:]) >= 16
	}
	// Size 0 means "to the end of the file", which only mdat may use.
	return typeMOV, size >= 8 || (size == 0 && string(head[4:8]) == "mdat")
}

// sniffEBML accepts Matroska-family files whose DocType is "webm". The EBML
// header is a master element whose children are walked one level deep; a
// header without a DocType defaults to "matroska" per the EBML spec.
func sniffEBML(head []byte) (Type, error) {
	p := 4
	size, n := ebmlVint(head[p:])
	if n == 0 {
		return refuse("a truncated EBML file")
	}
	p += n
	end := len(head)
	if size >= 0 && int64(p)+size < int64(end) {
		end = p + int(size)
	}
	for p < end {
		id, n := ebmlID(head[p:end])
		if n == 0 {
			break
		}
		p += n
		sz, n := ebmlVint(head[p:end])
		if n == 0 || sz < 0 || sz > int64(end-p-n) {
			break
		}
		p += n
		if id == 0x4282 { // DocType
			doc := string(bytes.TrimRight(head[p:p+int(sz)], "\x00"))
			if doc == "webm" {
				return typeWebM, nil
			}
			return refuse(fmt.Sprintf("an EBML %q file (Matroska family other than WebM)", doc))
		}
		p += int(sz)
	}
	return refuse("an EBML file without a WebM DocType")
}

// ebmlID reads an EBML element ID (1-4 bytes, marker bit kept).
func ebmlID(b []byte) (uint32, int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	l := 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		l++
	}
	if l > 4 || len(b) < l {
		return 0, 0
	}
	var id uint32
	for i := 0; i < l; i++ {
		id = id<<8 | uint32(b[i])
	}
	return id, l
}

// ebmlVint reads an EBML variable-size integer (1-8 bytes, marker bit
// removed). All ones means "unknown size" and is returned as -1.
func ebmlVint(b []byte) (int64, int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	l := 1
	mask := byte(0x80)
	for b[0]&mask == 0 {
		l++
		mask >>= 1
	}
	if len(b) < l {
		return 0, 0
	}
	v := uint64(b[0] & (mask - 1))
	allOnes := v == uint64(mask-1)
	for i := 1; i < l; i++ {
		v = v<<8 | uint64(b[i])
		allOnes = allOnes && b[i] == 0xFF
	}
	if allOnes {
		return -1, l
	}
	return int64(v), l
}

// lookalike names refused content for the error message. Order matters:
// markup is checked after skipping whitespace and a byte-order mark, as
// browsers do when they sniff, so that a padded HTML file is still called
// HTML.
func lookalike(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "an ELF executable"
	case bytes.HasPrefix(head, []byte("MZ")):
		return "a Windows (PE/MZ) executable"
	case bytes.HasPrefix(head, []byte{0xFE, 0xED, 0xFA, 0xCE}), bytes.HasPrefix(head, []byte{0xFE, 0xED, 0xFA, 0xCF}),
		bytes.HasPrefix(head, []byte{0xCE, 0xFA, 0xED, 0xFE}), bytes.HasPrefix(head, []byte{0xCF, 0xFA, 0xED, 0xFE}):
		return "a Mach-O executable"
	case bytes.HasPrefix(head, []byte{0xCA, 0xFE, 0xBA, 0xBE}):
		return "a Mach-O universal binary or Java class"
	case bytes.HasPrefix(head, []byte("#!")):
		return "a script (shebang)"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")),
		bytes.HasPrefix(head, []byte("PK\x07\x08")):
		return "a ZIP archive (or an Office/JAR/APK file)"
	case bytes.HasPrefix(head, []byte{0x1F, 0x8B}):
		return "a gzip archive"
	case bytes.HasPrefix(head, []byte("Rar!\x1a\x07")):
		return "a RAR archive"
	case bytes.HasPrefix(head, []byte{'7', 'z', 0xBC, 0xAF, 0x27, 0x1C}):
		return "a 7-Zip archive"
	case bytes.HasPrefix(head, []byte("BM")) && len(head) >= 14:
		return "a BMP image"
	case bytes.HasPrefix(head, []byte("II*\x00")), bytes.HasPrefix(head, []byte("MM\x00*")):
		return "a TIFF image (or camera raw)"
	}
	text := head
	for _, bom := range [][]byte{{0xEF, 0xBB, 0xBF}, {0xFE, 0xFF}, {0xFF, 0xFE}} {
		text = bytes.TrimPrefix(text, bom)
	}
	text = bytes.TrimLeft(text, " \t\r\n\f")
	lower := bytes.ToLower(text[:min(len(text), 64)])
	if bytes.HasPrefix(lower, []byte("<svg")) {
		return "an SVG image (XML with possible scripts)"
	}
	if bytes.HasPrefix(lower, []byte("<?xml")) {
		if bytes.Contains(bytes.ToLower(head), []byte("<svg")) {
			return "an SVG image (XML with possible scripts)"
		}
		return "an XML document"
	}
	for _, tag := range htmlTags {
		if bytes.HasPrefix(lower, []byte(tag)) && len(lower) > len(tag) {
			if c := lower[len(tag)]; c == ' ' || c == '>' || c == '\t' || c == '\n' || c == '\r' || c == '/' {
				return "HTML"
			}
		}
	}
	if bytes.HasPrefix(lower, []byte("<!--")) {
		return "HTML or XML markup"
	}
	if looksBinary(head) {
		return "unknown binary data"
	}
	return "unknown text"
}

// htmlTags are the openings the WHATWG MIME sniffing standard treats as HTML.
var htmlTags = []string{
	"<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div", "<font", "<table",
	"<a", "<style", "<title", "<b", "<body", "<br", "<p",
}

// looksBinary applies the WHATWG "binary data byte" test: control bytes
// other than tab, newline, form feed, carriage return and escape.
func looksBinary(b []byte) bool {
	for _, c := range b {
		if c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1A) || (c >= 0x1C && c <= 0x1F) {
			return true
		}
	}
	return false
}
