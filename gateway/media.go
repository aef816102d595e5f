package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/upload"
)

// Media bytes over REST: ranged downloads and a one-request upload. Both
// are plain HTTP handlers over the media service's gRPC streams; the
// gateway never holds a whole file in memory.

// sendBuffer: an upload reads every chunk of its body into one buffer and
// sends it, instead of a fresh buffer per message (1 MiB of garbage each,
// about 10 MiB more peak memory per REST upload, measured). That is safe
// because Send marshals the message into bytes of its own before it
// returns (grpc-go's retry buffer keeps those bytes, not the message), and
// nothing on these connections keeps a sent message: otelgrpc's client
// handler reads no payload, the breaker and upstream wrappers pass it on.
// grpc-go lets stats handlers read a message later; one that does, added
// to these connections, needs a buffer per message again.

// maxMultipartSpool bounds a multipart upload, which has to be spooled to
// disk to learn its size; larger files use tus or the raw-body form.
const maxMultipartSpool = 64 << 20

// multipartOverhead is what a multipart body may hold besides its file:
// boundaries, part headers, form fields.
const multipartOverhead = 64 << 10

// withUser forwards the caller's bearer token to the media service, which
// checks it (and the caller's access to the child) itself.
func withUser(r *http.Request) context.Context {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", h)
	}
	return ctx
}

// httpStatusFor maps media's refusals to the statuses HTTP clients expect
// for uploads: 413 for too large, 415 for a type that is not allowed.
func httpStatusFor(err error) error {
	switch errinfo.MediaReason(err) {
	case mediav1.ErrorReason_ERROR_REASON_TOO_LARGE:
		return &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: err}
	case mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE:
		return &runtime.HTTPStatusError{HTTPStatus: http.StatusUnsupportedMediaType, Err: err}
	}
	return err
}

// contentUser is withUser for the download route, which also takes the
// token as ?access_token=. A page shows a child's video or photo with
// <video src>, <audio src> or <img src>, and such elements cannot set an
// Authorization header (neither can a plain link to download), so the URL
// has to carry the token, as it does for EventSource and WebSocket
// (events.go). The header wins when both are present.
//
// requireUserToken sees only the header, so a query token is verified here
// the same way before it is forwarded: a service identity cannot enter
// through the URL either. The token stays out of telemetry: otelhttp puts
// url.path, never the query, on the server span; the span name and the
// metrics' http.route are the route template; nothing in the gateway logs
// request URLs; and the parameter is removed from the request here, so
// nothing after this point (http.ServeContent, error pages) can see it.
func (g *Gateway) contentUser(r *http.Request) (context.Context, *http.Request, error) {
	token, err := bearerToken(r, true)
	if q := r.URL.Query(); q.Has("access_token") {
		q.Del("access_token")
		u := *r.URL
		u.RawQuery = q.Encode()
		r = r.Clone(r.Context())
		r.URL, r.RequestURI = &u, u.RequestURI()
	}
	if err != nil {
		return nil, r, err
	}
	if token == "" || r.Header.Get("Authorization") != "" {
		return withUser(r), r, nil // none, or the header requireUserToken checked
	}
	if _, err := verifyUser(r, g.verifier, token); err != nil {
		return nil, r, err
	}
	return metadata.AppendToOutgoingContext(r.Context(), "authorization", "Bearer "+token), r, nil
}

// serveContent streams an item's bytes (or, with ?thumbnail=small|large, a
// thumbnail's) with Range, ETag and If-None-Match handled by
// http.ServeContent over a seeker that opens a ranged gRPC read on demand.
// The token comes from the Authorization header or, for media elements,
// ?access_token= (see contentUser).
func (g *Gateway) serveContent(w http.ResponseWriter, r *http.Request, params map[string]string) {
	w = streamAnswer(w, r) // a film may take longer than the write timeout; each write gets it
	name := params["name"]
	ctx, r, err := g.contentUser(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	item, err := g.media.GetMediaItem(ctx, &mediav1.GetMediaItemRequest{Name: name})
	if err != nil {
		writeError(w, r, err)
		return
	}
	thumb := r.URL.Query().Get("thumbnail")
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=0, must-revalidate")
	var content io.ReadSeeker
	if thumb == "" {
		h.Set("Content-Type", item.GetContentType())
		h.Set("ETag", `"`+item.GetContentSha256()+`"`)
		content = &mediaReader{ctx: ctx, client: g.media, name: name, size: item.GetSizeBytes()}
	} else {
		// Thumbnails are small: read whole, then serve from memory.
		data, err := readAll(ctx, g.media, name, thumb)
		if err != nil {
			writeError(w, r, err)
			return
		}
		h.Set("Content-Type", "image/jpeg")
		h.Set("ETag", `"`+item.GetContentSha256()+"-"+thumb+`"`)
		content = bytes.NewReader(data)
	}
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": downloadName(item, thumb)}))
	modified := time.Time{}
	if item.GetCreateTime() != nil {
		modified = item.GetCreateTime().AsTime()
	}
	http.ServeContent(w, r, "", modified, content)
}

// downloadName is a safe file name for Content-Disposition.
func downloadName(item *mediav1.MediaItem, thumb string) string {
	base := path.Base(item.GetName())
	if t := strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\"`, r) {
			return -1
		}
		return r
	}, item.GetTitle()); t != "" {
		base = t
	}
	if thumb != "" {
		return base + "-" + thumb + ".jpg"
	}
	exts, _ := mime.ExtensionsByType(item.GetContentType())
	if len(exts) > 0 && !strings.HasSuffix(strings.ToLower(base), exts[0]) {
		base += exts[0]
	}
	return base
}

func readAll(ctx context.Context, client mediav1.MediaServiceClient, name, thumb string) ([]byte, error) {
	stream, err := client.ReadMediaContent(ctx, &mediav1.ReadMediaContentRequest{Name: name, Thumbnail: thumb})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		buf.Write(msg.GetData())
	}
}

// mediaReader is an io.ReadSeeker over ReadMediaContent: a seek only moves
// the offset, and the next read opens a gRPC stream from there.
type mediaReader struct {
	ctx    context.Context
	client mediav1.MediaServiceClient
	name   string
	size   int64

	offset int64
	stream mediav1.MediaService_ReadMediaContentClient
	cancel context.CancelFunc
	buf    []byte
}

func (m *mediaReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += m.offset
	case io.SeekEnd:
		offset += m.size
	}
	if offset < 0 {
		return 0, errors.New("negative offset")
	}
	if offset != m.offset {
		m.close()
		m.offset = offset
	}
	return offset, nil
}

func (m *mediaReader) Read(p []byte) (int, error) {
	if m.offset >= m.size {
		return 0, io.EOF
	}
	for len(m.buf) == 0 {
		if m.stream == nil {
			ctx, cancel := context.WithCancel(m.ctx)
			stream, err := m.client.ReadMediaContent(ctx, &mediav1.ReadMediaContentRequest{Name: m.name, Offset: m.offset})
			if err != nil {
				cancel()
				return 0, err
			}
			m.stream, m.cancel = stream, cancel
		}
		msg, err := m.stream.Recv()
		if errors.Is(err, io.EOF) {
			m.close()
			return 0, io.ErrUnexpectedEOF // the size promised more
		}
		if err != nil {
			m.close()
			return 0, err
		}
		m.buf = msg.GetData()
	}
	n := copy(p, m.buf)
	m.buf = m.buf[n:]
	m.offset += int64(n)
	return n, nil
}

func (m *mediaReader) close() {
	if m.cancel != nil {
		m.cancel()
	}
	m.stream, m.cancel, m.buf = nil, nil, nil
}

// serveUpload takes a whole file in one request: the raw body (with
// Content-Length) or the first file of a multipart/form-data body. Query
// parameters: title, caption, kind (photo, video, artwork, document),
// filename, sha256. The body may be as large as the kind's upload limit
// (a multipart one, as maxMultipartSpool); one that declares more is
// refused before it is read.
func (g *Gateway) serveUpload(w http.ResponseWriter, r *http.Request, params map[string]string) {
	q := r.URL.Query()
	meta := &mediav1.UploadMetadata{Parent: params["parent"], Title: q.Get("title"), Caption: q.Get("caption"),
		Filename: q.Get("filename"), Sha256: q.Get("sha256")}
	kind := q.Get("kind")
	if kind != "" {
		v, ok := mediav1.MediaKind_value["MEDIA_KIND_"+strings.ToUpper(kind)]
		if !ok {
			writeError(w, r, status.Errorf(codes.InvalidArgument, "kind %q is not one of photo, video, artwork, document", kind))
			return
		}
		meta.Kind = mediav1.MediaKind(v)
	}
	limit, what := g.limits.upload(strings.ToLower(kind))
	multipart := false
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		multipart, limit, what = true, min(limit, maxMultipartSpool), "a multipart upload"
	}
	if !multipart && r.ContentLength < 0 {
		writeError(w, r, &runtime.HTTPStatusError{HTTPStatus: http.StatusLengthRequired,
			Err: status.Error(codes.InvalidArgument, "Content-Length is required: the size is checked before anything is stored")})
		return
	}
	bodyLimit := limit
	if multipart {
		bodyLimit += multipartOverhead
	}
	if declaredTooLarge(w, r, bodyLimit, what) {
		return
	}
	w = takeUpload(w, r, bodyLimit)
	body, size := io.Reader(r.Body), r.ContentLength
	if multipart {
		file, name, n, err := g.spoolFirstFile(r, limit)
		if err != nil {
			writeError(w, r, err)
			return
		}
		defer file.Close()
		body, size = file, n
		if meta.Filename == "" {
			meta.Filename = name
		}
		// The rest of the form (its closing boundary, at least) is read,
		// within the body's limit, so the connection can serve again.
		_, _ = io.Copy(io.Discard, r.Body)
	}
	meta.SizeBytes = size
	item, err := g.upload(withUser(r), meta, body)
	if err != nil {
		writeError(w, r, httpStatusFor(err))
		return
	}
	b, err := jsonMarshaler.Marshal(item)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/v1/"+item.GetName())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// upload streams body to UploadMedia after its metadata.
func (g *Gateway) upload(ctx context.Context, meta *mediav1.UploadMetadata, body io.Reader) (*mediav1.MediaItem, error) {
	stream, err := g.media.UploadMedia(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Metadata{Metadata: meta}}); err != nil {
		return stream.CloseAndRecv()
	}
	// One buffer for every message: see sendBuffer.
	_, err = upload.Send(body, make([]byte, upload.ChunkSize), func(b []byte) error {
		return stream.Send(&mediav1.UploadMediaRequest{Part: &mediav1.UploadMediaRequest_Chunk{Chunk: b}})
	}, nil)
	if readErr, ok := errors.AsType[*upload.ReadError](err); ok {
		// The body broke off or stalled: that is the answer, whatever
		// sending the bytes read before it would meet (the request's
		// context may end with its connection).
		return nil, bodyReadError(readErr.Err)
	}
	// The end of the body, or the service refused: its status says why.
	return stream.CloseAndRecv()
}

// spoolFirstFile copies the first file part of a multipart body, up to
// limit bytes, to a spool file (spoolFile).
func (g *Gateway) spoolFirstFile(r *http.Request, limit int64) (*spooled, string, int64, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", 0, status.Errorf(codes.InvalidArgument, "multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", 0, status.Error(codes.InvalidArgument, "the multipart body has no file part")
		}
		if err != nil {
			return nil, "", 0, multipartError(err)
		}
		if part.FileName() == "" {
			continue
		}
		return g.spool(part, limit)
	}
}

func (g *Gateway) spool(part *multipart.Part, limit int64) (*spooled, string, int64, error) {
	f, err := spoolFile(g.spoolDir)
	if err != nil {
		return nil, "", 0, err
	}
	n, err := io.Copy(f, io.LimitReader(part, limit+1))
	if err != nil {
		f.Close()
		return nil, "", 0, multipartError(err)
	}
	if n > limit {
		f.Close()
		return nil, "", 0, tooLargeError(limit, "the file of a multipart upload (send the raw body or use tus for more)")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, "", 0, err
	}
	return f, part.FileName(), n, nil
}

// multipartError is the answer to a multipart body that could not be
// read: malformed (400, saying why), or not all there (bodyReadError).
func multipartError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return bodyReadError(err)
	}
	return status.Errorf(codes.InvalidArgument, "multipart body: %v", err)
}

// spoolPattern names spool files (os.CreateTemp's pattern).
const spoolPattern = "kinbridge-upload-*"

// spoolFile returns a new, empty file in dir that nothing outlives: its
// name is removed at once, so it goes with its last descriptor even when
// the process dies. Where an open file cannot lose its name (Windows), it
// is removed on Close, and sweepSpool removes what a crash left.
func spoolFile(dir string) (*spooled, error) {
	f, err := os.CreateTemp(dir, spoolPattern)
	if err != nil {
		return nil, err
	}
	return &spooled{File: f, named: os.Remove(f.Name()) != nil}, nil
}

// spooled is a spool file; named when it kept its name.
type spooled struct {
	*os.File
	named bool
}

// Close closes the file and removes it if it still has a name.
func (f *spooled) Close() error {
	err := f.File.Close()
	if f.named {
		os.Remove(f.Name())
	}
	return err
}

// sweepSpool removes the spool files in dir that a crash left. A live
// spool file has no name (spoolFile), so none is removed from under its
// holder: another process's open file can lose only a name it was about
// to drop itself, and where names stay (Windows) an open file is not
// removed.
func sweepSpool(dir string) error {
	left, err := filepath.Glob(filepath.Join(dir, spoolPattern))
	if err != nil {
		return err
	}
	for _, name := range left {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			slog.Warn("gateway: removing a spool file a crash left", slog.String("file", name), slog.Any("error", err))
		}
	}
	return nil
}
