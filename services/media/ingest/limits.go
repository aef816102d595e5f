package ingest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrMalformed reports a file whose structure could not be walked
// completely, so what it holds cannot be vouched for. Callers refuse such
// uploads; Reason says why.
var ErrMalformed = errors.New("malformed media file")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Bounds on work done for one file. Real files stay far below them; a file
// that exceeds one is refused as malformed rather than walked for ever.
const (
	// maxBlock bounds one metadata block (EXIF, a colour profile, a
	// sample table) read into memory.
	maxBlock = 16 << 20
	// maxItems bounds segments, chunks, boxes or elements walked in one
	// file. A PNG with 8 KiB IDAT chunks needs 4M of them only past 32 GiB.
	maxItems = 4 << 20
	// maxLoaded bounds the total read into memory while walking one file
	// (sample tables, EXIF, colour profiles), not only per block.
	maxLoaded = 64 << 20
	// maxInflated bounds what all the compressed metadata of one file
	// inflates to, together: every compressed chunk is inflated against it
	// (source.inflate), whether it is kept (a colour profile) or only
	// measured and dropped (text), so a file cannot spread a bomb over
	// many small chunks. A file over it is refused.
	maxInflated = 16 << 20
)

// Info is what a rebuild keeps of a file's orientation and capture time.
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

// Inspect reads a file's orientation and taken time, as a rebuild keeps
// them. A file that cannot be walked yields the defaults: Inspect never
// fails, because neither is needed to store or show the file.
func Inspect(r io.ReaderAt, size int64, t Type) Info {
	rb, err := Rebuild(r, size, t, Options{})
	if err != nil {
		return Info{Orientation: 1}
	}
	return rb.Info
}

// Reason is what a malformed error says was wrong, without the sentinel's
// words, for the message shown to the uploader.
func Reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": ")
}
