package ingest

import (
	"bufio"
	"bytes"
	"io"
)

// A rebuilt GIF is the header, the logical screen descriptor and global
// colour table, then in their original order:
//   - every image: descriptor, local colour table, LZW code size and data
//     sub-blocks, copied;
//   - graphic control extensions (delay, disposal, transparency), cut to
//     their one 4-byte block;
//   - the looping extension (NETSCAPE2.0 or ANIMEXTS1.0), written anew with
//     only its loop count;
//   - an ICC profile extension (ICCRGBG1012), cleaned by keepICC;
//
// and the trailer. Everything else is dropped: comments, plain text,
// every other application extension (XMP among them) and whatever follows
// the trailer. Every block is walked to its terminator: a file cut short,
// or without a trailer, is refused.

// gifRebuildLoopApps name the application extensions that carry the loop
// count.
var gifRebuildLoopApps = map[string]bool{"NETSCAPE2.0": true, "ANIMEXTS1.0": true}

// gifRebuildICCApp names the application extension carrying an ICC profile.
const gifRebuildICCApp = "ICCRGBG1012"

// rebuildGIF plans the rebuilt GIF.
func rebuildGIF(s *source, out *builder, info *Info, opt Options) error {
	r := &gifScanner{s: s, br: bufio.NewReaderSize(io.NewSectionReader(s.r, 0, s.size), 64<<10)}
	var hdr [13]byte
	if err := r.read(hdr[:]); err != nil {
		return err
	}
	if v := string(hdr[:6]); v != "GIF87a" && v != "GIF89a" {
		return malformed("not a GIF")
	}
	n := int64(13)
	if hdr[10]&0x80 != 0 {
		n += 3 << (hdr[10]&7 + 1)
		if err := r.skip(n - 13); err != nil {
			return err
		}
	}
	out.copy(0, n)
	var (
		images  int
		loop    bool
		iccSeen bool
	)
	for {
		if err := s.step(); err != nil {
			return err
		}
		at := r.pos
		c, err := r.byte()
		if err != nil {
			return err
		}
		switch c {
		case 0x3B:
			if images == 0 {
				return malformed("GIF without an image")
			}
			out.bytes([]byte{0x3B})
			return nil // what follows the trailer is not part of the picture
		case 0x2C:
			var d [9]byte
			if err := r.read(d[:]); err != nil {
				return err
			}
			if d[8]&0x80 != 0 {
				if err := r.skip(3 << (d[8]&7 + 1)); err != nil {
					return err
				}
			}
			if _, err := r.byte(); err != nil { // LZW minimum code size
				return err
			}
			if err := r.subBlocks(nil); err != nil {
				return err
			}
			out.copy(at, r.pos-at)
			images++
		case 0x21:
			label, err := r.byte()
			if err != nil {
				return err
			}
			switch label {
			case 0xF9:
				var first []byte
				err := r.subBlocks(func(p []byte) {
					if first == nil {
						first = bytes.Clone(p)
					}
				})
				if err != nil {
					return err
				}
				if len(first) == 4 {
					out.bytes(append([]byte{0x21, 0xF9, 4}, append(first, 0)...))
				}
			case 0xFF:
				var id []byte
				var loopCount []byte
				var profile []byte
				err := r.subBlocks(func(p []byte) {
					switch {
					case id == nil:
						id = bytes.Clone(p)
					case gifRebuildLoopApps[string(id)] && len(p) == 3 && p[0] == 1 && loopCount == nil:
						loopCount = bytes.Clone(p[1:])
					case string(id) == gifRebuildICCApp && !iccSeen && int64(len(profile)) < maxBlock:
						profile = append(profile, p...)
					}
				})
				if err != nil {
					return err
				}
				if s.loaded += int64(len(profile)); s.loaded > maxLoaded {
					return malformed("more than %d bytes of metadata", maxLoaded)
				}
				switch {
				case loopCount != nil && !loop:
					loop = true
					ext := append([]byte{0x21, 0xFF, 11}, "NETSCAPE2.0"...)
					out.bytes(append(ext, 3, 1, loopCount[0], loopCount[1], 0))
				case string(id) == gifRebuildICCApp && !iccSeen:
					iccSeen = true
					if kept := keepICC(profile); kept != nil {
						out.bytes(gifICCExtension(kept))
					}
				}
			default:
				// Comments, plain text, unknown extensions: walked, dropped.
				if err := r.subBlocks(nil); err != nil {
					return err
				}
			}
		default:
			return malformed("GIF has an unknown block %02X at byte %d", c, at)
		}
	}
}

// gifICCExtension is an ICC profile application extension holding p.
func gifICCExtension(p []byte) []byte {
	ext := append([]byte{0x21, 0xFF, 11}, gifRebuildICCApp...)
	for len(p) > 0 {
		k := min(len(p), 255)
		ext = append(append(ext, byte(k)), p[:k]...)
		p = p[k:]
	}
	return append(ext, 0)
}

// gifScanner reads a GIF front to back, tracking the file offset.
type gifScanner struct {
	s   *source
	br  *bufio.Reader
	pos int64
	buf [255]byte
}

func (r *gifScanner) byte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, malformed("GIF ends at byte %d before its trailer", r.pos)
	}
	r.pos++
	return c, nil
}

func (r *gifScanner) read(p []byte) error {
	k, err := io.ReadFull(r.br, p)
	r.pos += int64(k)
	if err != nil {
		return malformed("GIF ends at byte %d before its trailer", r.pos)
	}
	return nil
}

func (r *gifScanner) skip(n int64) error {
	d, err := r.br.Discard(int(n))
	r.pos += int64(d)
	if err != nil {
		return malformed("GIF ends at byte %d before its trailer", r.pos)
	}
	return nil
}

// subBlocks walks data sub-blocks up to and including the zero-length
// terminator, passing each block's bytes to fn when fn is set (the slice
// is reused). The walk is bounded by the file: every block moves on.
func (r *gifScanner) subBlocks(fn func([]byte)) error {
	for {
		n, err := r.byte()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if fn == nil {
			if err := r.skip(int64(n)); err != nil {
				return err
			}
			continue
		}
		if err := r.read(r.buf[:n]); err != nil {
			return err
		}
		fn(r.buf[:n])
	}
}
