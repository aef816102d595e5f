package ingest

import (
	"bytes"
	"encoding/binary"
)

// WebP is a RIFF file: "RIFF", a little-endian size, "WEBP", then chunks of
// fourcc, little-endian size and data padded to an even length. The extended
// format (VP8X) carries metadata in "EXIF" (a TIFF block; some writers
// prefix "Exif\0\0") and "XMP " chunks. There are no checksums, so the
// chunks are cleaned in place and nothing else needs fixing.
func (j *job) webp() error {
	var h [12]byte
	if j.size < 12 {
		return malformed("WebP shorter than its header")
	}
	if err := j.readAt(h[:], 0); err != nil {
		return err
	}
	if string(h[:4]) != "RIFF" || string(h[8:12]) != "WEBP" {
		return malformed("WebP header missing")
	}
	// Trust the RIFF size only as far as the file goes: bytes past it are
	// not part of the image for any reader.
	end := min(8+int64(binary.LittleEndian.Uint32(h[4:])), j.size)
	for off := int64(12); off+8 <= end; {
		if err := j.step(); err != nil {
			return err
		}
		var ch [8]byte
		if err := j.readAt(ch[:], off); err != nil {
			return err
		}
		n := int64(binary.LittleEndian.Uint32(ch[4:]))
		data := off + 8
		if n > end-data {
			return malformed("WebP chunk %q at %d runs past the end", ch[:4], off)
		}
		var err error
		switch string(ch[:4]) {
		case "EXIF":
			err = j.webpEXIF(data, n)
		case "XMP ":
			err = j.xmpRegion(region{{data, n}})
		}
		if err != nil {
			return err
		}
		off = data + n + n&1
	}
	return nil
}

func (j *job) webpEXIF(data, n int64) error {
	var h [6]byte
	skip := int64(0)
	if n >= 6 {
		if err := j.readAt(h[:], data); err != nil {
			return err
		}
		if bytes.Equal(h[:], exifHeader) {
			skip = 6
		}
	}
	return j.exifRegion(region{{data, n}}, skip)
}
