// Package blob stores the media service's bytes (artwork, photos, videos) as
// immutable, content-addressed blobs named by the hex SHA-256 of their bytes.
//
// Two implementations sit behind [Store]: [Local], a directory (the embedded
// default), and [S3], an S3-compatible object store such as MinIO (scale-out).
// [Open] picks one from a URL. Both stream: a Put or an Open of a blob of
// several gigabytes holds a bounded buffer, never the blob.
//
// A blob becomes visible under its name only once all of its bytes are stored
// and verified, so a reader never sees a partial blob, and a failed or
// cancelled Put leaves nothing behind under any name.
//
// Which blobs are still referenced is not this package's business: the media
// database counts references and calls Delete when the last one goes. Because
// the store cannot order a Put against a concurrent Delete of the same bytes,
// the caller must (for example by recording the reference before the Put, and
// deleting only blobs whose count is zero in the same transaction).
//
// Every operation gets an OpenTelemetry span ("blob.Put", "blob.Open",
// "blob.Stat", "blob.Delete") carrying the backend, the first characters of
// the blob's name and sizes; never credentials.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/minio/minio-go/v7"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Store keeps immutable blobs named by the hex SHA-256 of their bytes.
// Implementations are safe for concurrent use.
type Store interface {
	// Put streams r into the store and returns the blob's hex SHA-256 and
	// size. The name is computed while streaming; nothing half-written is
	// ever visible under that name. Putting bytes that already exist is
	// cheap-ish and returns the same name. If wantSHA256 != "" and the bytes
	// do not match, Put returns ErrDigestMismatch and stores nothing.
	Put(ctx context.Context, r io.Reader, wantSHA256 string) (sha256Hex string, size int64, err error)
	// Open returns length bytes starting at offset (length < 0: to the end;
	// a length past the end stops at the end). ErrNotFound if absent; an
	// offset beyond the size (or negative) is ErrRange; an offset equal to
	// the size gives an empty reader.
	Open(ctx context.Context, sha256Hex string, offset, length int64) (io.ReadCloser, error)
	// Stat returns the size of a blob, or ErrNotFound.
	Stat(ctx context.Context, sha256Hex string) (size int64, err error)
	// Delete removes a blob; deleting an absent blob is not an error
	// (reference counting lives in the media database, which decides when
	// the last reference is gone).
	Delete(ctx context.Context, sha256Hex string) error
	// Parts keeps the bytes of uploads in progress beside the blobs.
	Parts
}

// Adopter is a [Store] that can take a finished file as a blob without
// copying its bytes ([Local] renames it into place). Callers that wrote a
// file to store, hashing it on the way, hand it over through [PutFile],
// which adopts it when the store can and sends its bytes otherwise.
type Adopter interface {
	// Adopt makes the file at path blob sha256Hex. The caller vouches that
	// the file's bytes hash to sha256Hex (it hashed them while writing
	// them) and that it synced the file, and removes whatever is left at
	// path afterwards.
	Adopt(ctx context.Context, path, sha256Hex string) error
}

var (
	// ErrNotFound says no blob has that name.
	ErrNotFound = errors.New("blob not found")
	// ErrRange says a read starts beyond the end of the blob.
	ErrRange = errors.New("offset beyond the end of the blob")
	// ErrDigestMismatch says the bytes given to Put do not hash to the
	// SHA-256 the caller expected; nothing was stored.
	ErrDigestMismatch = errors.New("blob content does not match the expected SHA-256")
	// ErrInvalidName says a blob name (or an expected SHA-256) is not 64
	// lowercase hex characters. Names reach the store from requests, and
	// the local store builds paths from them, so anything else is refused
	// before it touches a path or a key.
	ErrInvalidName = errors.New("blob name is not a lowercase hex SHA-256")
)

// TracerName is the instrumentation scope of the spans this package creates.
const TracerName = "github.com/kinbridge/kinbridge/services/media/blob"

// Option tunes [NewLocal], [NewS3] and [Open].
type Option func(*options)

type options struct {
	tp     trace.TracerProvider
	logger *slog.Logger
}

// WithTracerProvider sets where the blob spans go. Without it the otel
// global provider is used.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tp = tp }
}

// WithLogger sets the logger for the rare housekeeping messages (stale
// temporary uploads removed at start). Without it slog.Default is used.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// ValidName reports whether name is a blob name: exactly 64 lowercase hex
// characters.
func ValidName(name string) bool {
	if len(name) != 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkName(op, name string) error {
	if !ValidName(name) {
		// %q with a cap: the bad name came from outside and may be long.
		if len(name) > 80 {
			name = name[:80] + "..."
		}
		return fmt.Errorf("blob: %s %q: %w", op, name, ErrInvalidName)
	}
	return nil
}

// short is the part of a name that goes into spans and error messages: enough
// to find the blob, short enough to read.
func short(name string) string {
	if len(name) > 12 {
		return name[:12]
	}
	return name
}

// Span attribute keys of this package; the semconv ones are used where
// OpenTelemetry defines one.
const (
	attrBackend      = attribute.Key("blob.backend")
	attrSHA256Prefix = attribute.Key("blob.sha256_prefix")
	attrSize         = attribute.Key("blob.size")
	attrOffset       = attribute.Key("blob.offset")
	attrLength       = attribute.Key("blob.length")
	attrBytesRead    = attribute.Key("blob.bytes_read")
	attrDeduplicated = attribute.Key("blob.deduplicated")
	// attrParts is the number of parts of a multipart S3 upload.
	attrParts = attribute.Key("blob.parts")
)

// tracing starts and ends the spans of one store.
type tracing struct {
	tracer trace.Tracer
	kind   trace.SpanKind
	// attrs are on every span of the store: backend, server, bucket.
	attrs []attribute.KeyValue
}

func newTracing(tp trace.TracerProvider, kind trace.SpanKind, attrs ...attribute.KeyValue) tracing {
	return tracing{
		tracer: tp.Tracer(TracerName, trace.WithSchemaURL(semconv.SchemaURL)),
		kind:   kind,
		attrs:  attrs,
	}
}

func (t tracing) start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	all := make([]attribute.KeyValue, 0, len(t.attrs)+len(attrs))
	all = append(all, t.attrs...)
	all = append(all, attrs...)
	return t.tracer.Start(ctx, name, trace.WithSpanKind(t.kind), trace.WithAttributes(all...))
}

// end ends span, recording err unless it is ErrNotFound: a missing blob is an
// answer (Stat is how callers ask whether a blob exists), not a failure.
func end(span trace.Span, err error) {
	if err != nil && !errors.Is(err, ErrNotFound) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(errorType(err))
	}
	span.End()
}

// errorType names the kind of err for error.type, which must stay
// low-cardinality to be worth grouping by: this package's sentinels, the
// context's, the S3 error code, or else the type of the innermost error
// (the wrapping type, *fmt.wrapError, would say nothing).
func errorType(err error) attribute.KeyValue {
	for _, known := range []struct {
		err  error
		name string
	}{
		{ErrDigestMismatch, "digest_mismatch"},
		{ErrRange, "range"},
		{ErrInvalidName, "invalid_name"},
		{context.Canceled, "canceled"},
		{context.DeadlineExceeded, "deadline_exceeded"},
	} {
		if errors.Is(err, known.err) {
			return semconv.ErrorTypeKey.String(known.name)
		}
	}
	var s3err minio.ErrorResponse
	if errors.As(err, &s3err) && s3err.Code != "" {
		return semconv.ErrorTypeKey.String(s3err.Code)
	}
	for next := errors.Unwrap(err); next != nil; next = errors.Unwrap(err) {
		err = next
	}
	return semconv.ErrorType(err)
}

// ctxReader stops a Put at the first Read after its context is done: the
// caller's reader (an upload from a client) may otherwise keep it streaming
// long after nobody waits for the result.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// readCloser is what Open returns: a bounded view of the blob that ends the
// "blob.Open" span when closed, so the span covers the transfer.
type readCloser struct {
	r      io.Reader
	closer io.Closer
	span   trace.Span
	n      int64
	err    error
	closed bool
}

func (rc *readCloser) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.n += int64(n)
	if err != nil && err != io.EOF {
		rc.err = err // ends up on the span
	}
	return n, err
}

func (rc *readCloser) Close() error {
	if rc.closed {
		return nil
	}
	rc.closed = true
	var err error
	if rc.closer != nil {
		err = rc.closer.Close()
	}
	rc.span.SetAttributes(attrBytesRead.Int64(rc.n))
	end(rc.span, rc.err)
	return err
}

// emptyReader is the reader of a range that holds no bytes.
var emptyReader = io.NopCloser(eofReader{})

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// clampRange checks offset and length against size and returns how many
// bytes the range holds.
func clampRange(name string, size, offset, length int64) (int64, error) {
	if offset < 0 || offset > size {
		return 0, fmt.Errorf("blob: open %s at %d (size %d): %w", short(name), offset, size, ErrRange)
	}
	if length < 0 || length > size-offset {
		return size - offset, nil
	}
	return length, nil
}
