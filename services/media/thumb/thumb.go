// Package thumb makes thumbnails of stored media originals and reads the
// dimensions (and, for videos, the duration) a viewer will see.
//
// Still images (JPEG, PNG, GIF, WebP) are decoded in Go after their header
// has been checked against [Limits], so a decompression bomb is refused
// before any pixel memory is allocated. HEIC pictures and videos have no
// pure-Go decoder: they go through external programs when those are on PATH
// (heif-convert from libheif-examples; ffmpeg and ffprobe), and without them
// Make still succeeds, reporting what a cheap ISOBMFF read of the container
// tells (HEIC 'ispe', MP4/QuickTime 'mvhd'/'tkhd') and no thumbnails.
// Programs get a file path: an MP4's index may sit at its end, so they
// cannot read a stream. [MakeFromFile] (or [WithPath]) lets them read the
// stored original in place; otherwise a small original is copied to a
// private temporary folder, removed before Make returns.
//
// Some content gets no thumbnail, and Make still succeeds: animated WebP (no
// decoder here, ffmpeg 5.1's included), and videos without a picture track.
//
// Thumbnails are JPEG at quality 80, fitted within Size.Max x Size.Max with
// the aspect kept, never upscaled, turned upright by the EXIF orientation,
// with transparency laid over white.
package thumb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Size is one wanted thumbnail: it fits within Max x Max pixels.
type Size struct {
	// Name keys the thumbnail in [Result.Thumbs], e.g. "small".
	Name string
	// Max bounds both sides of the thumbnail, in pixels.
	Max int
}

// DefaultSizes are the thumbnails the media service keeps for every original:
// a grid tile and a screen-sized preview.
var DefaultSizes = []Size{{"small", 320}, {"large", 1280}}

// Limits bound the pictures Make agrees to decode. A zero field takes its
// default.
type Limits struct {
	// MaxPixels bounds width*height (default 50 MP). Decoding costs 4 to 8
	// bytes a pixel, so this is what bounds memory.
	MaxPixels int64
	// MaxDimension bounds either side (default 20000), which refuses absurd
	// strips that a pixel count alone would let through.
	MaxDimension int
}

// Default limits; see [Limits].
const (
	DefaultMaxPixels    = 50_000_000
	DefaultMaxDimension = 20_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxDimension <= 0 {
		l.MaxDimension = DefaultMaxDimension
	}
	return l
}

// check refuses dimensions over the limits. Sides are widened to int64
// before multiplying so that a forged header cannot overflow the product.
func (l Limits) check(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("thumb: invalid dimensions %dx%d", w, h)
	}
	if w > l.MaxDimension || h > l.MaxDimension || int64(w)*int64(h) > l.MaxPixels {
		return fmt.Errorf("%w: %dx%d (limits: %d pixels, %d a side)",
			ErrTooLarge, w, h, l.MaxPixels, l.MaxDimension)
	}
	return nil
}

// Result is what Make learned about an original.
type Result struct {
	// Width and Height are those of the original as a viewer sees it, after
	// orientation; zero when they could not be learned.
	Width, Height int
	// Duration is the length of a video, when known.
	Duration time.Duration
	// Thumbs holds JPEG bytes by [Size.Name]. It is empty (not nil), and
	// Make still succeeds, when no thumbnail can be made: an animated
	// WebP, a video without ffmpeg or without a picture track, a HEIC
	// without heif-convert, an original too large to copy for a program
	// when no path was given.
	Thumbs map[string][]byte
}

// ErrTooLarge reports an original whose dimensions are over the [Limits]. It
// is returned from the header alone, before decoding.
var ErrTooLarge = errors.New("thumb: dimensions over the limits")

// Content types Make understands.
const (
	TypeJPEG      = "image/jpeg"
	TypePNG       = "image/png"
	TypeGIF       = "image/gif"
	TypeWebP      = "image/webp"
	TypeHEIC      = "image/heic"
	TypeHEIF      = "image/heif"
	TypeMP4       = "video/mp4"
	Type3GP       = "video/3gpp"
	TypeQuickTime = "video/quicktime"
	TypeWebM      = "video/webm"
)

// Tools names the external programs Make may run. An empty field means the
// program is not used.
type Tools struct {
	FFmpeg      string // poster frames of videos
	FFprobe     string // duration and dimensions of videos
	HeifConvert string // HEIC to JPEG (libheif-examples)
}

// LookupTools finds the programs on PATH; a missing one is left empty.
func LookupTools() Tools {
	return Tools{
		FFmpeg:      lookPath("ffmpeg"),
		FFprobe:     lookPath("ffprobe"),
		HeifConvert: lookPath("heif-convert"),
	}
}

// Option adjusts one call of [Make].
type Option func(*options)

type options struct {
	path        string
	tracer      trace.Tracer
	tools       *Tools
	toolTimeout time.Duration
	spoolLimit  int64
	tempDir     string
}

// Defaults for the options.
const (
	// DefaultToolTimeout bounds each run of an external program. Seeking to
	// a poster frame reads little even in a file of several GB, so a program
	// still busy after this long is stuck (or fed something hostile).
	DefaultToolTimeout = 60 * time.Second
	// DefaultSpoolLimit is the largest original copied to a temporary file
	// for a program when no [WithPath] is given: a whole HEIC photo or a
	// short clip, not a feature-length video.
	DefaultSpoolLimit = 256 << 20
)

// WithPath tells Make that the original is also a local file at path, so
// that ffmpeg and heif-convert (which need a file, not a stream: an MP4's
// index may sit at its end) read it in place instead of from a temporary
// copy. The file must hold the same bytes as the io.ReaderAt.
func WithPath(path string) Option {
	return func(o *options) { o.path = path }
}

// WithTracerProvider sets where the "thumb.Make" span goes; the default is
// the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) {
		if tp != nil {
			o.tracer = tp.Tracer(tracerName)
		}
	}
}

// WithTools sets the external programs to use instead of looking them up on
// PATH at each call; a zero Tools runs none.
func WithTools(t Tools) Option {
	return func(o *options) { o.tools = &t }
}

// WithToolTimeout bounds each run of an external program (default
// [DefaultToolTimeout]); the context's deadline applies as well.
func WithToolTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.toolTimeout = d
		}
	}
}

// WithSpoolLimit sets the largest original that is copied to a temporary
// file for an external program when no [WithPath] is given (default
// [DefaultSpoolLimit]); a larger one gets no thumbnail. Zero or less never
// copies.
func WithSpoolLimit(n int64) Option {
	return func(o *options) { o.spoolLimit = n }
}

// WithTempDir sets where a call's temporary folder is made (default: the
// system's temporary directory); the folder is removed when the call ends.
func WithTempDir(dir string) Option {
	return func(o *options) { o.tempDir = dir }
}

const tracerName = "github.com/kinbridge/kinbridge/services/media/thumb"

// Span attribute keys.
const (
	attrContentType = attribute.Key("media.content_type")
	attrSize        = attribute.Key("media.size")
	attrWidth       = attribute.Key("media.width")
	attrHeight      = attribute.Key("media.height")
	attrDurationMS  = attribute.Key("media.duration_ms")
	attrThumbs      = attribute.Key("thumb.count")
	attrProgram     = attribute.Key("thumb.program")
)

// Make reads an original of size bytes through r (random access: only
// headers, and the index of a video, are read before deciding what to do)
// and returns its dimensions and thumbnails.
//
// contentType is the sniffed, trusted type: one of the Type constants;
// parameters after ';' are ignored, and another type fails with an error
// wrapping errors.ErrUnsupported. orientation is the EXIF orientation
// (1..8) of a still image; other values mean 1. It is ignored for HEIC,
// whose container rotation (irot/imir) is authoritative and applied by
// heif-convert, and for videos, which ffmpeg turns by their display matrix.
// sizes nil means [DefaultSizes]; an empty non-nil slice asks for
// dimensions only.
//
// Make fails with [ErrTooLarge] when the header declares dimensions over
// lim, with the context's error when ctx ends, and with a decoding error
// when the content is corrupt. A missing program (ffmpeg, heif-convert) is
// not an error: the result then has no thumbnails.
//
// Decoding a still image takes up to 8 bytes a pixel of lim.MaxPixels;
// callers bound how many calls run at once.
func Make(ctx context.Context, r io.ReaderAt, size int64, contentType string, orientation int, sizes []Size, lim Limits, opts ...Option) (res Result, err error) {
	o := options{toolTimeout: DefaultToolTimeout, spoolLimit: DefaultSpoolLimit}
	for _, opt := range opts {
		opt(&o)
	}
	if o.tracer == nil {
		o.tracer = otel.GetTracerProvider().Tracer(tracerName)
	}
	if o.tools == nil {
		t := LookupTools()
		o.tools = &t
	}
	ct := normalizeType(contentType)

	ctx, span := o.tracer.Start(ctx, "thumb.Make", trace.WithAttributes(
		attrContentType.String(ct), attrSize.Int64(size)))
	defer func() {
		span.SetAttributes(attrWidth.Int(res.Width), attrHeight.Int(res.Height),
			attrThumbs.Int(len(res.Thumbs)))
		if res.Duration > 0 {
			span.SetAttributes(attrDurationMS.Int64(res.Duration.Milliseconds()))
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	if sizes == nil {
		sizes = DefaultSizes
	}
	if err := validateSizes(sizes); err != nil {
		return Result{}, err
	}
	if size < 0 {
		return Result{}, fmt.Errorf("thumb: negative size %d", size)
	}
	lim = lim.withDefaults()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	j := &job{ctx: ctx, r: r, size: size, contentType: ct, sizes: sizes, lim: lim, opt: &o}
	defer j.cleanup()
	switch ct {
	case TypeJPEG, TypePNG, TypeGIF, TypeWebP:
		res, err = j.still(io.NewSectionReader(r, 0, size), ct, normalizeOrientation(orientation))
	case TypeHEIC, TypeHEIF:
		res, err = j.heic()
	case TypeMP4, Type3GP, TypeQuickTime, TypeWebM:
		res, err = j.video()
	default:
		return Result{}, fmt.Errorf("thumb: content type %q: %w", contentType, errors.ErrUnsupported)
	}
	if err != nil {
		return Result{}, err
	}
	if res.Thumbs == nil {
		res.Thumbs = map[string][]byte{}
	}
	return res, nil
}

// MakeFromFile is [Make] for an original stored as a local file: the file is
// read in place by Go and by the external programs alike.
func MakeFromFile(ctx context.Context, path, contentType string, orientation int, sizes []Size, lim Limits, opts ...Option) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("thumb: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("thumb: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Result{}, fmt.Errorf("thumb: %s is not a regular file", path)
	}
	// Appended last so that it wins over a WithPath among opts.
	return Make(ctx, f, fi.Size(), contentType, orientation, sizes, lim, append(opts[:len(opts):len(opts)], WithPath(path))...)
}

// job carries one call of Make through its format-specific steps.
type job struct {
	ctx         context.Context
	r           io.ReaderAt
	size        int64
	contentType string
	sizes       []Size
	lim         Limits
	opt         *options

	tmpDir string // made on first use, removed by cleanup
}

func (j *job) cleanup() {
	if j.tmpDir != "" {
		_ = os.RemoveAll(j.tmpDir)
	}
}

func normalizeType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

func normalizeOrientation(o int) int {
	if o < 1 || o > 8 {
		return 1
	}
	return o
}

func validateSizes(sizes []Size) error {
	seen := make(map[string]bool, len(sizes))
	for _, s := range sizes {
		if s.Name == "" || s.Max <= 0 {
			return fmt.Errorf("thumb: invalid size %+v: needs a name and a positive Max", s)
		}
		if seen[s.Name] {
			return fmt.Errorf("thumb: size name %q given twice", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}
