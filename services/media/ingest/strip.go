package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrMalformed reports a file whose structure could not be parsed safely, so
// location data in it could not be ruled out. Callers refuse such uploads.
var ErrMalformed = errors.New("malformed media file")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Bounds on work done for one file. Real files stay far below them; a file
// that exceeds one is refused as malformed rather than parsed for ever.
const (
	// maxBlock bounds one metadata block (EXIF, XMP, a text chunk) read into
	// memory. JPEG caps these at 64 KiB; other containers allow more, but
	// megabytes of EXIF or XMP are not something a camera writes.
	maxBlock = 16 << 20
	// maxItems bounds segments, chunks or boxes walked in one file. A PNG
	// with 8 KiB IDAT chunks needs 4M of them only past 32 GiB.
	maxItems = 4 << 20
	// maxDepth bounds nesting of ISO media boxes we descend into.
	maxDepth = 8
)

// StripLocation removes location data from the file in place and reports
// whether it changed anything. It never changes the file's size or moves any
// byte: GPS IFDs are unlinked from their EXIF directory and zeroed, MP4 and
// QuickTime location atoms are renamed to 'free' with their payload zeroed,
// and XMP location properties (exif:GPS*, and place names such as
// photoshop:City or Iptc4xmpExt:LocationShown) are overwritten with spaces.
// Orientation and all other EXIF tags are kept. size is the file's size;
// nothing at or past it is read or written.
//
// What is covered, per type t (as returned by Sniff for this file):
//   - JPEG: APP1 EXIF and XMP (extended XMP included) and APP13 IPTC place
//     fields, in the main image and in images appended after it (MPF/MPO);
//   - PNG: eXIf, XMP in text chunks, ImageMagick's "Raw profile type
//     exif/APP1/xmp/iptc/8bim" chunks and its per-property chunks
//     ("exif:GPSLatitude"). A compressed chunk holding location cannot be
//     rewritten at the same size, so it is dropped: renamed to a private
//     chunk type every decoder skips, zeroed, its CRC fixed;
//   - WebP: the EXIF and XMP chunks;
//   - HEIC/HEIF: the Exif and XMP items found through meta/iinf/iloc;
//   - MP4/3GP/QuickTime: ©xyz and loci atoms under moov, trak and udta, Apple
//     mdta location keys in meta/keys+ilst, and XMP (XMP_ atoms, XMP uuid
//     boxes);
//   - GIF: location in its XMP application extension (best effort: GIF is
//     not refused when it cannot be walked);
//   - WebM: Matroska SimpleTags named LOCATION (what ffmpeg writes) or GPS,
//     replaced by Void elements (best effort, like GIF);
//   - PDF: nothing; changed is false.
//
// An EXIF, XMP or text block that cannot be parsed is zeroed rather than
// trusted. A container that cannot be walked safely (truncated segments or
// boxes, sizes pointing outside the file) yields an error wrapping
// ErrMalformed; the file may then have been partly cleaned and must not be
// stored. Running StripLocation again on its own output changes nothing.
func StripLocation(f interface {
	io.ReaderAt
	io.WriterAt
}, size int64, t Type) (changed bool, err error) {
	j := &job{r: f, w: f, size: size}
	if err := j.run(t); err != nil {
		return j.changed, err
	}
	return j.changed, nil
}

// Info is what Inspect reads from a file without changing it.
type Info struct {
	// Orientation is the EXIF orientation (1..8); 1 when there is none.
	//
	// For HEIC the EXIF value is informative only: HEIF readers apply the
	// container's irot/imir transforms, and a thumbnailer that decodes
	// through such a reader must not rotate again.
	Orientation int
	// TakenTime is when the picture or film was taken, as the file says:
	// EXIF DateTimeOriginal (with its OffsetTimeOriginal when present,
	// otherwise read as UTC: cameras record local time without a zone), a
	// movie header's creation time, or WebM's DateUTC. Zero when unknown.
	TakenTime time.Time
}

// Inspect reads a file's orientation and taken time. A file that cannot be
// parsed, or a type without such metadata, yields the defaults: Inspect
// never fails, because neither is needed to store or show the file.
func Inspect(r io.ReaderAt, size int64, t Type) Info {
	j := &job{r: r, size: size, inspect: true, orientation: 1}
	_ = j.run(t) // any failure leaves what was found so far
	return Info{Orientation: j.orientation, TakenTime: j.taken}
}

// job carries one pass over a file: either stripping (w set) or reading
// metadata (inspect set, w nil, nothing written).
type job struct {
	r    io.ReaderAt
	w    io.WriterAt
	size int64

	inspect     bool
	orientation int
	taken       time.Time

	changed bool
	items   int // segments/chunks/boxes walked so far, against maxItems
}

// errFound stops an inspecting walk once what it looks for has been found.
var errFound = errors.New("found")

func (j *job) run(t Type) error {
	if j.size < 0 {
		return malformed("negative size")
	}
	var err error
	switch t.ContentType {
	case typeJPEG.ContentType:
		err = j.jpeg(0, 0)
	case typePNG.ContentType:
		err = j.png()
	case typeWebP.ContentType:
		err = j.webp()
	case typeHEIC.ContentType, typeHEIF.ContentType,
		typeMP4.ContentType, type3GP.ContentType, typeMOV.ContentType:
		err = j.isobmff()
	case typeGIF.ContentType:
		err = j.gif()
	case typeWebM.ContentType:
		err = j.webm()
	default:
		return fmt.Errorf("ingest: no location stripping for content type %q", t.ContentType)
	}
	if errors.Is(err, errFound) {
		return nil
	}
	return err
}

// step counts one walked item against maxItems.
func (j *job) step() error {
	j.items++
	if j.items > maxItems {
		return malformed("more than %d segments, chunks or boxes", maxItems)
	}
	return nil
}

// readAt reads exactly len(p) bytes at off, refusing reads outside the file.
func (j *job) readAt(p []byte, off int64) error {
	if off < 0 || off > j.size || int64(len(p)) > j.size-off {
		return malformed("read of %d bytes at %d outside a file of %d bytes", len(p), off, j.size)
	}
	n, err := j.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("ingest: read at %d: %w", off, err)
}

// writeAt writes p at off, refusing writes outside the file or in
// orientation mode (which has no writer).
func (j *job) writeAt(p []byte, off int64) error {
	if j.w == nil {
		return errors.New("ingest: write in read-only pass")
	}
	if off < 0 || off > j.size || int64(len(p)) > j.size-off {
		return malformed("write of %d bytes at %d outside a file of %d bytes", len(p), off, j.size)
	}
	if _, err := j.w.WriteAt(p, off); err != nil {
		return fmt.Errorf("ingest: write at %d: %w", off, err)
	}
	return nil
}

// extent is a byte range of the file.
type extent struct{ off, n int64 }

// region is a logical byte string stored in pieces across the file (HEIF
// item extents, JPEG extended-XMP chunks), or in one piece.
type region []extent

func (rg region) size() int64 {
	var n int64
	for _, e := range rg {
		n += e.n
	}
	return n
}

// load reads a region into memory, refusing one larger than maxBlock or
// reaching outside the file.
func (j *job) load(rg region) ([]byte, error) {
	total := int64(0)
	for _, e := range rg {
		if e.n < 0 || e.off < 0 || e.off > j.size || e.n > j.size-e.off {
			return nil, malformed("metadata extent (%d bytes at %d) outside the file", e.n, e.off)
		}
		total += e.n
		if total > maxBlock {
			return nil, malformed("metadata block larger than %d bytes", maxBlock)
		}
	}
	b := make([]byte, total)
	p := b
	for _, e := range rg {
		if err := j.readAt(p[:e.n], e.off); err != nil {
			return nil, err
		}
		p = p[e.n:]
	}
	return b, nil
}

// store writes back the pieces of a region whose bytes differ between old and
// cur (as returned by load and then edited), and records the change.
func (j *job) store(rg region, old, cur []byte) error {
	for _, e := range rg {
		if !bytes.Equal(old[:e.n], cur[:e.n]) {
			if err := j.writeAt(cur[:e.n], e.off); err != nil {
				return err
			}
			j.changed = true
		}
		old, cur = old[e.n:], cur[e.n:]
	}
	return nil
}

// readTIFF takes the orientation and the taken time from an EXIF block,
// reporting whether it could be parsed.
func (j *job) readTIFF(b []byte) bool {
	o, ok := tiffOrientation(b)
	if !ok {
		return false
	}
	j.orientation = o
	j.taken = tiffTakenTime(b)
	return true
}

// exifRegion cleans (or, in orientation mode, reads) the EXIF block stored in
// rg, whose TIFF header starts skip bytes in; heifExifSkip reads the offset
// from the block's first four bytes as HEIF stores it.
func (j *job) exifRegion(rg region, skip int64) error {
	b, err := j.load(rg)
	if err != nil {
		return err
	}
	if skip == heifExifSkip {
		skip = -1
		if len(b) >= 4 {
			skip = 4 + int64(binary.BigEndian.Uint32(b))
		}
	}
	valid := skip >= 0 && skip <= int64(len(b))
	if j.inspect {
		if valid {
			if j.readTIFF(b[skip:]) {
				return errFound
			}
		}
		return nil
	}
	cur := bytes.Clone(b)
	if valid {
		cleanEXIF(cur[skip:])
	} else {
		clear(cur) // no TIFF header where one must be: cannot be vouched for
	}
	return j.store(rg, b, cur)
}

// xmpRegion blanks location properties in the XMP packet stored in rg.
func (j *job) xmpRegion(rg region) error {
	if j.inspect {
		return nil
	}
	b, err := j.load(rg)
	if err != nil {
		return err
	}
	cur := bytes.Clone(b)
	cleanXMP(cur)
	return j.store(rg, b, cur)
}

// zero overwrites n bytes at off with zeros, in bounded pieces, recording a
// change only if some byte was not already zero.
func (j *job) zero(off, n int64) error {
	if n < 0 || off < 0 || off > j.size || n > j.size-off {
		return malformed("zeroing %d bytes at %d outside the file", n, off)
	}
	const piece = 32 << 10
	buf := make([]byte, min(n, piece))
	zeros := make([]byte, len(buf))
	for n > 0 {
		k := min(n, piece)
		if err := j.readAt(buf[:k], off); err != nil {
			return err
		}
		if !bytes.Equal(buf[:k], zeros[:k]) {
			if err := j.writeAt(zeros[:k], off); err != nil {
				return err
			}
			j.changed = true
		}
		off += k
		n -= k
	}
	return nil
}
