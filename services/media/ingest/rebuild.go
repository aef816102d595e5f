package ingest

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// Rebuild is the allowlist: instead of removing the metadata it knows to be
// dangerous (a denylist, which lets through every shape it has not heard
// of), it writes a new file holding only the structures a reader needs to
// show the picture or play the film, plus what is kept on purpose:
// orientation, colour profile and capture time. Everything else is left out:
// unknown and vendor segments, chunks, boxes and elements, XMP, IPTC,
// comments, data after the end marker or past a container's declared size,
// duplicate metadata, timed metadata tracks.
//
// The media payload (entropy-coded scans, IDAT, VP8 frames, mdat) is never
// decoded or re-encoded: the plan refers to its byte ranges in the upload,
// and the rebuilt metadata around it is written anew, with offsets fixed
// where the container addresses its payload by position.

// Options adjusts what a rebuild keeps.
type Options struct {
	// KeepLocation keeps GPS positions (the EXIF GPS directory) for
	// deployments that want them. Unknown structures are dropped all the
	// same.
	KeepLocation bool
}

// Rebuilt is the plan of a rebuilt file: pieces that are either new bytes
// or ranges of the upload, which WriteTo streams in order.
type Rebuilt struct {
	src     io.ReaderAt
	srcSize int64
	pieces  []piece
	size    int64
	// Info is what the rebuild read on the way: orientation and taken
	// time, as kept in the rebuilt file.
	Info Info
}

// piece is one part of a rebuilt file: lit when it is new bytes, else n
// bytes of the upload at off, or n zero bytes when off is -1.
type piece struct {
	lit    []byte
	off, n int64
}

// Size is the rebuilt file's size in bytes.
func (r *Rebuilt) Size() int64 { return r.size }

// WriteTo writes the rebuilt file to w.
func (r *Rebuilt) WriteTo(w io.Writer) (int64, error) {
	var written int64
	var buf []byte
	for _, p := range r.pieces {
		var n int64
		var err error
		switch {
		case p.lit != nil:
			var k int
			k, err = w.Write(p.lit)
			n = int64(k)
		case p.off < 0:
			n, err = io.CopyN(w, zeroReader{}, p.n)
		default:
			if buf == nil {
				buf = make([]byte, 256<<10)
			}
			n, err = io.CopyBuffer(onlyWriter{w}, io.NewSectionReader(r.src, p.off, p.n), buf)
			if err == nil && n < p.n {
				err = io.ErrUnexpectedEOF
			}
		}
		written += n
		if err != nil {
			return written, fmt.Errorf("ingest: writing rebuilt file: %w", err)
		}
	}
	return written, nil
}

// Unchanged reports whether the rebuilt file is the upload byte for byte
// (an upload that held nothing to leave out), so that the caller can store
// it under the hash it already has. Only new bytes are compared with the
// upload: ranges of the upload at their own offsets are equal by
// construction.
func (r *Rebuilt) Unchanged() bool {
	if r.size != r.srcSize {
		return false
	}
	var at int64
	buf := make([]byte, 32<<10)
	for _, p := range r.pieces {
		switch {
		case p.lit != nil:
			for rest, off := p.lit, at; len(rest) > 0; {
				n := min(len(rest), len(buf))
				if _, err := r.src.ReadAt(buf[:n], off); err != nil || !bytes.Equal(buf[:n], rest[:n]) {
					return false
				}
				rest, off = rest[n:], off+int64(n)
			}
		case p.off < 0:
			for left, off := p.n, at; left > 0; {
				n := min(left, int64(len(buf)))
				if _, err := r.src.ReadAt(buf[:n], off); err != nil || !allZero(buf[:n]) {
					return false
				}
				left, off = left-n, off+n
			}
		default:
			if p.off != at {
				return false
			}
		}
		at += p.pieceSize()
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// pieceSize is the number of bytes a piece adds to the file.
func (p piece) pieceSize() int64 {
	if p.lit != nil {
		return int64(len(p.lit))
	}
	return p.n
}

// Bytes returns the whole rebuilt file; for tests and small files.
func (r *Rebuilt) Bytes() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(int(r.size))
	_, err := r.WriteTo(&b)
	return b.Bytes(), err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// onlyWriter hides a writer's ReadFrom, so that CopyBuffer uses its buffer.
type onlyWriter struct{ io.Writer }

// Rebuild reads the upload in src (size bytes, sniffed as t) and returns the
// plan of the file to store in its place. A file whose structure cannot be
// walked completely (truncated, sizes pointing outside their parent, data
// after the end that is not allowed, a limit exceeded) yields an error
// wrapping ErrMalformed that says what was wrong: the caller refuses the
// upload and stores nothing.
func Rebuild(src io.ReaderAt, size int64, t Type, opt Options) (*Rebuilt, error) {
	s := &source{r: src, size: size}
	if size < 0 {
		return nil, malformed("negative size")
	}
	b := &builder{}
	rb := &Rebuilt{src: src, srcSize: size, Info: Info{Orientation: 1}}
	rebuild := rebuilders[t.ContentType]
	if rebuild == nil {
		return nil, fmt.Errorf("%w: %s", errNoRebuild, t.ContentType)
	}
	err := rebuild(s, b, &rb.Info, opt)
	if err != nil {
		return nil, err
	}
	rb.pieces, rb.size = b.pieces, b.n
	return rb, nil
}

// errNoRebuild reports a type the rebuild does not handle yet.
var errNoRebuild = errors.New("ingest: no allowlist rebuild for this type")

// HasRebuild reports whether Rebuild handles t.
func HasRebuild(t Type) bool { return rebuilders[t.ContentType] != nil }

// rebuilders plan the rebuilt file of each content type: they walk the
// upload in s, append the pieces of the new file to out, and record what
// they keep of orientation and taken time in info.
var rebuilders = map[string]func(s *source, out *builder, info *Info, opt Options) error{
	typeJPEG.ContentType: rebuildJPEG,
	typePNG.ContentType:  rebuildPNG,
	typeGIF.ContentType:  rebuildGIF,
	typeWebP.ContentType: rebuildWebP,
	typeHEIC.ContentType: rebuildHEIF,
	typeHEIF.ContentType: rebuildHEIF,
	typeWebM.ContentType: rebuildWebM,
	typeMP4.ContentType:  rebuildMovie,
	type3GP.ContentType:  rebuildMovie,
	typeMOV.ContentType:  rebuildMovie,
}

// source reads the upload for a rebuild, refusing reads outside the file
// and counting what is walked and loaded against the bounds.
type source struct {
	r        io.ReaderAt
	size     int64
	items    int
	loaded   int64
	inflated int64 // what compressed metadata inflated to, against maxInflated
}

// step counts one walked item against maxItems.
func (s *source) step() error {
	s.items++
	if s.items > maxItems {
		return malformed("more than %d segments, chunks or boxes", maxItems)
	}
	return nil
}

// readAt reads exactly len(p) bytes at off.
func (s *source) readAt(p []byte, off int64) error {
	if off < 0 || off > s.size || int64(len(p)) > s.size-off {
		return malformed("a structure at byte %d runs past the end of the file (%d bytes)", off, s.size)
	}
	n, err := s.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("ingest: read at %d: %w", off, err)
}

// load reads n bytes at off into memory, within maxBlock for one block and
// maxLoaded for the whole file.
func (s *source) load(off, n int64) ([]byte, error) {
	if n < 0 || n > maxBlock {
		return nil, malformed("a metadata block of %d bytes (the limit is %d)", n, maxBlock)
	}
	if s.loaded+n > maxLoaded {
		return nil, malformed("more than %d bytes of metadata", maxLoaded)
	}
	if off < 0 || off > s.size || n > s.size-off {
		return nil, malformed("a structure at byte %d runs past the end of the file (%d bytes)", off, s.size)
	}
	s.loaded += n
	p := make([]byte, n)
	return p, s.readAt(p, off)
}

// inflate decompresses the zlib stream r, a compressed block named what,
// drawing what it inflates to from the file's budget (maxInflated): the
// file is refused when its compressed blocks together inflate to more,
// whatever they are. keep says whether the output is wanted (it then
// counts against maxLoaded too, and is returned) or only measured, to be
// dropped. ok is false when r is not a whole zlib stream: such a block is
// dropped, not refused.
func (s *source) inflate(what string, r io.Reader, keep bool) (out []byte, ok bool, err error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, false, nil
	}
	left := maxInflated - s.inflated
	var w io.Writer = io.Discard
	var buf bytes.Buffer
	if keep {
		left = min(left, maxLoaded-s.loaded)
		w = &buf
	}
	n, rerr := io.Copy(w, io.LimitReader(zr, left+1))
	s.inflated += n
	if keep {
		s.loaded += n
	}
	if n > left {
		return nil, false, malformed("%s inflates past what one file's compressed metadata may take together (%d bytes)", what, maxInflated)
	}
	if rerr != nil {
		return nil, false, nil
	}
	return buf.Bytes(), true, nil
}

// builder collects the pieces of a rebuilt file, or of a part of it whose
// size must be known before its header is written.
type builder struct {
	pieces []piece
	n      int64
}

// pos is the number of bytes written so far.
func (b *builder) pos() int64 { return b.n }

// bytes appends new bytes (kept, not copied: the caller must not change p).
func (b *builder) bytes(p []byte) {
	if len(p) == 0 {
		return
	}
	b.pieces = append(b.pieces, piece{lit: p})
	b.n += int64(len(p))
}

// copy appends n bytes of the upload at off, merged with the previous piece
// when they follow each other.
func (b *builder) copy(off, n int64) {
	if n <= 0 {
		return
	}
	if k := len(b.pieces); k > 0 {
		if last := &b.pieces[k-1]; last.lit == nil && last.off >= 0 && last.off+last.n == off {
			last.n += n
			b.n += n
			return
		}
	}
	b.pieces = append(b.pieces, piece{off: off, n: n})
	b.n += n
}

// zeros appends n zero bytes.
func (b *builder) zeros(n int64) {
	if n <= 0 {
		return
	}
	b.pieces = append(b.pieces, piece{off: -1, n: n})
	b.n += n
}

// append appends everything c holds.
func (b *builder) append(c *builder) {
	for _, p := range c.pieces {
		switch {
		case p.lit != nil:
			b.bytes(p.lit)
		case p.off < 0:
			b.zeros(p.n)
		default:
			b.copy(p.off, p.n)
		}
	}
}
