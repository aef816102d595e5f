package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

const (
	// DefaultPartSize is the multipart part size of an S3 Put, and so the
	// memory one Put holds: a blob that fits in one part is sent with a
	// single PUT, a larger one in parts of this size (up to 10,000 parts,
	// so 156 GiB at the default).
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts (but for the last).
	MinPartSize = 5 << 20
	// maxParts is S3's limit of parts in a multipart upload.
	maxParts = 10000
	// cleanupTimeout bounds the aborts and removals a failed Put sends after
	// its own context is gone.
	cleanupTimeout = 30 * time.Second
)

// staleTempAge is when a temporary upload is surely abandoned (its process
// died between upload and copy): uploading even many GB takes minutes, not a
// day. A variable only so that a test can age its uploads.
var staleTempAge = 24 * time.Hour

// S3Config says where an [S3] store keeps its blobs.
type S3Config struct {
	// Endpoint is host:port of the server, without scheme.
	Endpoint string
	// Bucket holds the blobs; NewS3 creates it if missing.
	Bucket string
	// AccessKey and SecretKey authenticate. Both empty: they come from the
	// environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then
	// MINIO_ROOT_USER/MINIO_ROOT_PASSWORD), which keeps secrets out of URLs.
	AccessKey, SecretKey string
	// UseSSL selects HTTPS.
	UseSSL bool
	// Region of the bucket; empty lets the client ask the server.
	Region string
	// Prefix is put before every key, so that one bucket can hold several
	// stores (or other data). A trailing "/" is added if missing.
	Prefix string
	// PartSize is the multipart part size (and the buffer one Put holds);
	// 0 means DefaultPartSize. At least MinPartSize.
	PartSize int64
}

// S3 is a [Store] in a bucket of an S3-compatible object store (MinIO, AWS
// S3). Blob ab12cd... lives at key <prefix>ab/12/ab12cd..., the same layout
// as [Local], so a directory and a bucket can be mirrored into each other.
//
// A blob that fits in one part is hashed in memory and stored with a single
// PUT, whose SHA-256 the server checks. A larger blob is uploaded in parts:
// to its final key when the caller names the expected SHA-256 (the upload is
// completed only after the bytes are verified, and S3 shows a multipart
// object only once complete), otherwise to a temporary key <prefix>tmp/...,
// then copied server-side to its final key once its name is known.
//
// Abandoned multipart uploads (a process killed mid-upload) are invisible
// but cost storage until the bucket's lifecycle rule aborts them: configure
// AbortIncompleteMultipartUpload on the bucket (MinIO does this itself after
// 24 hours). Temporary objects older than a day are removed by NewS3.
type S3 struct {
	client    *minio.Client
	core      minio.Core
	transport *http.Transport
	bucket    string
	prefix    string
	partSize  int64
	tr        tracing
	logger    *slog.Logger
	bufs      sync.Pool // of *[]byte of partSize
}

var _ Store = (*S3)(nil)

// NewS3 connects to the server of cfg, creates the bucket if missing, and
// removes stale temporary objects of Puts interrupted by a crash.
func NewS3(ctx context.Context, cfg S3Config, opts ...Option) (*S3, error) {
	o := buildOptions(opts)
	if cfg.Endpoint == "" {
		return nil, errors.New("blob: s3 store: no endpoint")
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("blob: s3 store: bucket %q: %w", cfg.Bucket, err)
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > 1<<30 {
		return nil, fmt.Errorf("blob: s3 store: part size %d is not between %d and 1 GiB", partSize, MinPartSize)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}

	var creds *credentials.Credentials
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.EnvMinio{}})
	} else {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	}
	transport, err := minio.DefaultTransport(cfg.UseSSL)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 store: %w", err)
	}
	// No otelhttp spans per request: their url.full would carry whole blob
	// names, which spans keep to a prefix, and minio-go sends some requests
	// without the caller's context, which would give orphan root spans. The
	// blob.* span counts the parts instead.
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     creds,
		Secure:    cfg.UseSSL,
		Transport: transport,
		Region:    cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 store %s: %w", cfg.Endpoint, err)
	}

	attrs := []attribute.KeyValue{attrBackend.String("s3"), semconv.AWSS3Bucket(cfg.Bucket)}
	if host, port, err := net.SplitHostPort(cfg.Endpoint); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else {
		attrs = append(attrs, semconv.ServerAddress(cfg.Endpoint))
	}
	s := &S3{
		client:    client,
		core:      minio.Core{Client: client},
		transport: transport,
		bucket:    cfg.Bucket,
		prefix:    prefix,
		partSize:  partSize,
		tr:        newTracing(o.tp, trace.SpanKindClient, attrs...),
		logger:    o.logger,
	}
	s.bufs.New = func() any { b := make([]byte, s.partSize); return &b }

	if err := s.ensureBucket(ctx, cfg.Region); err != nil {
		transport.CloseIdleConnections()
		return nil, err
	}
	s.sweep(ctx)
	return s, nil
}

func (s *S3) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: s3 store %s: bucket %s: %w", s.client.EndpointURL().Host, s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	switch minio.ToErrorResponse(err).Code {
	case "", minio.BucketAlreadyOwnedByYou:
		// Another instance starting at the same time may have won.
		return nil
	}
	return fmt.Errorf("blob: s3 store %s: create bucket %s: %w", s.client.EndpointURL().Host, s.bucket, err)
}

// sweep removes temporary objects a crash left behind. It is best effort: a
// store that can read and write must not refuse to start over housekeeping,
// and what it misses only costs space until the next start.
func (s *S3) sweep(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing if the loop ends early
	cutoff := time.Now().Add(-staleTempAge)
	removed := 0
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.tmpPrefix(), Recursive: true}) {
		if obj.Err != nil {
			s.logger.WarnContext(ctx, "blob: cannot list stale temporary uploads", "bucket", s.bucket, "error", obj.Err)
			return
		}
		if obj.LastModified.After(cutoff) {
			continue // maybe another instance's upload in progress
		}
		if err := s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			s.logger.WarnContext(ctx, "blob: cannot remove stale temporary upload", "bucket", s.bucket, "key", obj.Key, "error", err)
			return
		}
		removed++
	}
	if removed > 0 {
		s.logger.InfoContext(ctx, "blob: removed stale temporary uploads", "bucket", s.bucket, "count", removed)
	}
}

// Close releases the idle connections the client keeps to the server.
func (s *S3) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}

// Bucket returns the bucket of the store.
func (s *S3) Bucket() string { return s.bucket }

// Prefix returns the prefix of every key of the store: "" or ending in "/".
func (s *S3) Prefix() string { return s.prefix }

func (s *S3) key(name string) string {
	return s.prefix + name[0:2] + "/" + name[2:4] + "/" + name
}

func (s *S3) tmpPrefix() string { return s.prefix + "tmp/" }

// exists reports whether blob name is stored.
func (s *S3) exists(ctx context.Context, name string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, s.key(name), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return false, nil
	}
	return false, fmt.Errorf("blob: stat %s: %w", short(name), err)
}

// Put implements [Store.Put]; see [S3] for how the bytes travel.
func (s *S3) Put(ctx context.Context, r io.Reader, wantSHA256 string) (name string, size int64, err error) {
	ctx, span := s.tr.start(ctx, "blob.Put")
	dedup := false
	defer func() {
		if err == nil {
			span.SetAttributes(attrSHA256Prefix.String(short(name)), attrSize.Int64(size), attrDeduplicated.Bool(dedup))
		}
		end(span, err)
	}()
	if wantSHA256 != "" {
		if err := checkName("put", wantSHA256); err != nil {
			return "", 0, err
		}
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	h := sha256.New()

	if wantSHA256 != "" {
		ok, err := s.exists(ctx, wantSHA256)
		if err != nil {
			return "", 0, err
		}
		if ok {
			// The blob is there already: check the bytes without sending them.
			dedup = true
			if size, err = io.CopyBuffer(h, ctxReader{ctx, r}, buf); err != nil {
				return "", 0, fmt.Errorf("blob: put: %w", err)
			}
			return verified(h, size, wantSHA256)
		}
	}

	src := io.TeeReader(ctxReader{ctx, r}, h)
	n, err := io.ReadFull(src, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// The whole blob is in buf: its name is known before anything is sent.
		if name, size, err = verified(h, int64(n), wantSHA256); err != nil {
			return "", 0, err
		}
		if wantSHA256 == "" {
			ok, err := s.exists(ctx, name)
			if err != nil {
				return "", 0, err
			}
			if ok {
				dedup = true
				return name, size, nil
			}
		}
		// With DisableContentSha256 the name goes in x-amz-content-sha256,
		// and the server refuses the PUT unless the bytes it got hash to it.
		_, err = s.core.PutObject(ctx, s.bucket, s.key(name), bytes.NewReader(buf[:n]), size, "", name,
			minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
		if err != nil {
			return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
		}
		return name, size, nil
	case err != nil:
		return "", 0, fmt.Errorf("blob: put: %w", err)
	}

	if wantSHA256 != "" {
		// Nothing shows under the final key before Complete, and Complete
		// comes only after the bytes are verified.
		name, size, err = s.putMultipart(ctx, s.key(wantSHA256), buf, src, h, wantSHA256)
		return name, size, err
	}
	tmp := s.tmpPrefix() + randomHex(16)
	defer func() {
		// Gone whether the copy worked or not; the caller's context may be
		// canceled, the removal must still be sent.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if rerr := s.client.RemoveObject(cctx, s.bucket, tmp, minio.RemoveObjectOptions{}); rerr != nil {
			s.logger.WarnContext(ctx, "blob: cannot remove temporary upload", "bucket", s.bucket, "key", tmp, "error", rerr)
		}
	}()
	if name, size, err = s.putMultipart(ctx, tmp, buf, src, h, ""); err != nil {
		return "", 0, err
	}
	ok, err := s.exists(ctx, name)
	if err != nil {
		return "", 0, err
	}
	if ok {
		dedup = true
		return name, size, nil
	}
	// ComposeObject, unlike CopyObject, copies sources over 5 GiB (in parts).
	if _, err := s.client.ComposeObject(ctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: s.key(name)},
		minio.CopySrcOptions{Bucket: s.bucket, Object: tmp}); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: copy into place: %w", short(name), err)
	}
	return name, size, nil
}

// putMultipart uploads buf (full, read from src already) and the rest of src
// to key in parts, reusing buf for every part, and completes the upload only
// if the bytes hash (through h, which src feeds) to want, when want is set.
// On any failure the upload is aborted, so nothing becomes visible.
// startMultipart starts a multipart upload to key. The caller defers
// abort with its own error: a failed upload's parts are removed, not left
// to cost storage until the bucket's lifecycle rules (if any) find them.
func (s *S3) startMultipart(ctx context.Context, key string) (uploadID string, abort func(*error), err error) {
	uploadID, err = s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return "", nil, err
	}
	return uploadID, func(failed *error) {
		if *failed == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if aerr := s.core.AbortMultipartUpload(cctx, s.bucket, key, uploadID); aerr != nil {
			s.logger.WarnContext(ctx, "blob: cannot abort multipart upload", "bucket", s.bucket, "key", key, "error", aerr)
		}
	}, nil
}

func (s *S3) putMultipart(ctx context.Context, key string, buf []byte, src io.Reader, h hash.Hash, want string) (name string, size int64, err error) {
	uploadID, abort, err := s.startMultipart(ctx, key)
	if err != nil {
		return "", 0, fmt.Errorf("blob: put: start upload: %w", err)
	}
	defer abort(&err)

	var parts []minio.CompletePart
	n, last := len(buf), false
	for part := 1; ; part++ {
		if part > maxParts {
			return "", 0, fmt.Errorf("blob: put: larger than %d parts of %d bytes", maxParts, len(buf))
		}
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, uploadID, part, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			return "", 0, fmt.Errorf("blob: put: part %d: %w", part, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: part, ETag: p.ETag})
		size += int64(n)
		if last {
			break
		}
		n, err = io.ReadFull(src, buf)
		if err == io.EOF {
			break
		}
		if err == io.ErrUnexpectedEOF {
			last = true
		} else if err != nil {
			return "", 0, fmt.Errorf("blob: put: %w", err)
		}
	}
	trace.SpanFromContext(ctx).SetAttributes(attrParts.Int(len(parts)))
	if name, size, err = verified(h, size, want); err != nil {
		return "", 0, err
	}
	// A caller that gave up gets an error, so the blob must not appear.
	if err := ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: complete upload: %w", short(name), err)
	}
	return name, size, nil
}

// Open implements [Store.Open] with one ranged GET; only a range the server
// refuses costs a second request, to tell an empty range at the end from
// one beyond it.
func (s *S3) Open(ctx context.Context, name string, offset, length int64) (_ io.ReadCloser, err error) {
	ctx, span := s.tr.start(ctx, "blob.Open",
		attrSHA256Prefix.String(short(name)), attrOffset.Int64(offset), attrLength.Int64(length))
	defer func() {
		if err != nil {
			end(span, err)
		}
	}()
	if err := checkName("open", name); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("blob: open %s at %d: %w", short(name), offset, ErrRange)
	}
	if length > math.MaxInt64-offset {
		length = -1 // to the end, without overflowing the range's end
	}
	if length == 0 {
		// No GET can ask for zero bytes; the size says whether the offset
		// is valid.
		size, err := s.stat(ctx, name)
		if err != nil {
			return nil, err
		}
		if _, err := clampRange(name, size, offset, 0); err != nil {
			return nil, err
		}
		return &readCloser{r: emptyReader, span: span}, nil
	}

	var opts minio.GetObjectOptions
	ranged := offset > 0 || length > 0
	if ranged {
		last := int64(0) // with offset > 0: "bytes=offset-", to the end
		if length > 0 {
			last = offset + length - 1
		}
		if err := opts.SetRange(offset, last); err != nil {
			return nil, fmt.Errorf("blob: open %s: %w", short(name), err)
		}
	}
	body, _, hdr, err := s.core.GetObject(ctx, s.bucket, s.key(name), opts)
	switch minio.ToErrorResponse(err).Code {
	case "":
		if err != nil {
			return nil, fmt.Errorf("blob: open %s: %w", short(name), err)
		}
	case minio.NoSuchKey:
		return nil, fmt.Errorf("blob: open %s: %w", short(name), ErrNotFound)
	case minio.InvalidRange:
		// The offset is at or past the end (or the blob is empty).
		size, err := s.stat(ctx, name)
		if err != nil {
			return nil, err
		}
		if _, err := clampRange(name, size, offset, length); err != nil {
			return nil, err
		}
		span.SetAttributes(attrSize.Int64(size))
		return &readCloser{r: emptyReader, span: span}, nil
	default:
		return nil, fmt.Errorf("blob: open %s: %w", short(name), err)
	}
	var r io.Reader = body
	if ranged {
		cr := hdr.Get("Content-Range") // "bytes 10-19/1000"
		if cr == "" {
			body.Close()
			// Serving the whole object instead would hand out wrong bytes.
			return nil, fmt.Errorf("blob: open %s: the server ignored the range request", short(name))
		}
		if _, total, ok := strings.Cut(cr, "/"); ok {
			if size, err := strconv.ParseInt(total, 10, 64); err == nil {
				span.SetAttributes(attrSize.Int64(size))
			}
		}
		if length > 0 {
			r = io.LimitReader(body, length)
		}
	}
	return &readCloser{r: r, closer: body, span: span}, nil
}

// Stat implements [Store.Stat].
func (s *S3) Stat(ctx context.Context, name string) (size int64, err error) {
	ctx, span := s.tr.start(ctx, "blob.Stat", attrSHA256Prefix.String(short(name)))
	defer func() {
		if err == nil {
			span.SetAttributes(attrSize.Int64(size))
		}
		end(span, err)
	}()
	if err := checkName("stat", name); err != nil {
		return 0, err
	}
	return s.stat(ctx, name)
}

func (s *S3) stat(ctx context.Context, name string) (int64, error) {
	info, err := s.client.StatObject(ctx, s.bucket, s.key(name), minio.StatObjectOptions{})
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return 0, fmt.Errorf("blob: stat %s: %w", short(name), ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("blob: stat %s: %w", short(name), err)
	}
	return info.Size, nil
}

// Delete implements [Store.Delete]. S3 answers a delete of an absent key
// with success, which is what the contract wants.
func (s *S3) Delete(ctx context.Context, name string) (err error) {
	ctx, span := s.tr.start(ctx, "blob.Delete", attrSHA256Prefix.String(short(name)))
	defer func() { end(span, err) }()
	if err := checkName("delete", name); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.key(name), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blob: delete %s: %w", short(name), err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}
