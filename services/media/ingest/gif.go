package ingest

import (
	"bufio"
	"bytes"
	"io"
)

// GIF has no EXIF, but it can carry XMP (exiftool writes GPS there on
// request) in an application extension named "XMP DataXMP". The XMP bytes
// are stored raw, not in sub-blocks: decoders read them as sub-block lengths
// and are caught by a 258-byte "magic trailer" (01 FF FE ... 01 00 00) that
// leads every such chain to a terminator. Overwriting XMP with spaces keeps
// that working, since a space is just another non-zero length.
//
// GIF is not one of the formats whose cleaning must succeed: nothing in a
// camera or phone writes location into it. A file this walker cannot follow
// is therefore left as it is rather than refused.

var (
	gifXMPApp     = []byte("XMP DataXMP")
	gifXMPTrailer = []byte{0x01, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB}
)

func (j *job) gif() error {
	r := &jpegReader{br: bufio.NewReaderSize(io.NewSectionReader(j.r, 0, j.size), 64<<10)}
	var hdr [13]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return nil
	}
	r.pos = 13
	if hdr[10]&0x80 != 0 { // global color table
		if r.skip(3<<(hdr[10]&7+1)) != nil {
			return nil
		}
	}
	for {
		if err := j.step(); err != nil {
			return nil
		}
		c, err := r.byte()
		if err != nil {
			return nil
		}
		switch c {
		case 0x3B: // trailer
			return nil
		case 0x21: // extension: label, then sub-blocks
			label, err := r.byte()
			if err != nil {
				return nil
			}
			if label == 0xFF {
				// The XMP is rewritten behind the buffered reader's back;
				// the old and the new bytes both lead the sub-block skip
				// below into the magic trailer, so the stale buffer is
				// harmless.
				if err := j.gifApplication(r); err != nil {
					return err
				}
			}
		case 0x2C: // image: descriptor, color table, LZW code size, sub-blocks
			var d [9]byte
			if _, err := io.ReadFull(r.br, d[:]); err != nil {
				return nil
			}
			r.pos += 9
			if d[8]&0x80 != 0 {
				if r.skip(3<<(d[8]&7+1)) != nil {
					return nil
				}
			}
			if _, err := r.byte(); err != nil {
				return nil
			}
		default:
			return nil
		}
		if err := gifSkipSubBlocks(j, r); err != nil {
			return nil
		}
	}
}

// gifApplication handles an application extension whose label has been
// read; it leaves r at the extension's first data sub-block.
func (j *job) gifApplication(r *jpegReader) error {
	n, err := r.byte()
	if err != nil || n != 11 {
		return nil // not the usual 11-byte identifier: skipped as sub-blocks
	}
	id, err := r.br.Peek(11)
	if err != nil {
		return nil
	}
	isXMP := bytes.Equal(id, gifXMPApp)
	if r.skip(11) != nil {
		return nil
	}
	if !isXMP {
		return nil
	}
	// Find the end of the raw XMP: the magic trailer.
	start := r.pos
	end := start
	buf := make([]byte, 32<<10)
	for end < j.size && end-start < maxBlock {
		k := int(min(int64(len(buf)), j.size-end))
		if j.readAt(buf[:k], end) != nil {
			return nil
		}
		if i := bytes.Index(buf[:k], gifXMPTrailer); i >= 0 {
			return j.xmpRegion(region{{start, end + int64(i) - start}})
		}
		// Overlap the next read so a trailer split across reads is found.
		end += int64(max(k-len(gifXMPTrailer), 1))
	}
	return nil
}

// gifSkipSubBlocks skips data sub-blocks up to and including the
// zero-length terminator.
func gifSkipSubBlocks(j *job, r *jpegReader) error {
	for {
		if err := j.step(); err != nil {
			return err
		}
		n, err := r.byte()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := r.skip(int64(n)); err != nil {
			return err
		}
	}
}
