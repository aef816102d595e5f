package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/upload"
)

// tus 1.0 at /v1/uploads, so stock resumable clients (tus-js-client,
// Uppy) work. The protocol is tusd's; the bytes go straight into the media
// service's resumable sessions over gRPC. No gateway keeps upload state or
// bytes, so an upload begun through one gateway resumes through another.
//
// Upload-Metadata keys: child (children/{child}, required), filename,
// title, caption, kind (photo, video, artwork, document), sha256 (hex).
//
// Nothing refused is kept. Media refuses an upload for what it is (type,
// kind, size, checksum, structure) during a PATCH or when the last one
// finishes it, and drops the session with its bytes as it does: the
// refusing request answers why (413, 415, 400), and HEAD and PATCH on the
// upload answer 404 from then on. A body that runs past Upload-Length is
// such a refusal too (see withBodyTail). Creating an upload over the
// user's caps (uploads under way, bytes declared and not yet sent) answers
// 429 with the reason (TOO_MANY_UPLOADS, UPLOAD_QUOTA) and Retry-After.
// What is not a refusal keeps the upload resumable: a PATCH at the wrong
// offset (409), one that a busy session turns away (423), a broken
// connection, media being away.

const tusBasePath = "/v1/uploads/"

// newTusHandler returns the tus handler over the media client. An upload
// may declare up to the largest upload limit (media then checks its
// kind's), and each read of a body may wait up to the read timeout.
func newTusHandler(media mediav1.MediaServiceClient, limits Limits) (http.Handler, error) {
	store := &tusStore{media: media}
	composer := tusd.NewStoreComposer()
	composer.UseCore(store)
	composer.UseTerminater(store)
	h, err := tusd.NewHandler(tusd.Config{
		BasePath:             tusBasePath,
		StoreComposer:        composer,
		MaxSize:              limits.largestUpload(),
		NetworkTimeout:       limits.Timeouts.Read,
		DisableDownload:      true,
		DisableConcatenation: true,
		Cors:                 &tusd.CorsConfig{Disable: true}, // the gateway's own CORS applies
		// tusd logs every request through golang.org/x/exp/slog; the
		// gateway's own spans, metrics and error logs already cover them.
		Logger:                    expslog.New(expslog.NewTextHandler(io.Discard, nil)),
		PreFinishResponseCallback: store.finishResponse,
	})
	if err != nil {
		return nil, err
	}
	// tusd's router expects paths relative to its base.
	return http.StripPrefix(strings.TrimSuffix(tusBasePath, "/"), withBodyTail(withItemHeader(h))), nil
}

// withBodyTail lets WriteChunk see a body that runs past the upload's
// length. tusd cuts such a body at Upload-Length (or turns it away when
// its Content-Length says so) and answers 413 itself, which would leave
// the session and its bytes in place: refused, yet kept. So tusd is not
// told the Content-Length, and the body is counted below tusd's cut
// (bodyTail); WriteChunk then hands media the first byte past the end
// too, and media refuses the upload as too large and drops it, as it
// does a gRPC client's extra bytes.
func withBodyTail(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		carries := r.Method == http.MethodPatch ||
			(r.Method == http.MethodPost && r.Header.Get("Content-Type") == "application/offset+octet-stream")
		if carries && r.Body != nil {
			tail := &bodyTail{ReadCloser: r.Body}
			r = r.WithContext(context.WithValue(r.Context(), bodyTailKey{}, tail))
			r.Body, r.ContentLength = tail, -1
		}
		h.ServeHTTP(w, r)
	})
}

// bodyTail counts what a request body really held, below tusd's cut at
// Upload-Length, and keeps its last byte. tusd's cut reads at most one
// byte past the length, so when the body held more than tusd passed on,
// it held exactly one more here, and that is the last byte.
type bodyTail struct {
	io.ReadCloser
	n    int64
	last byte
}

type bodyTailKey struct{}

func (b *bodyTail) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.last = p[n-1]
	}
	return n, err
}

// beyond returns the first byte past what tusd passed on (passed bytes),
// if the body went on past the upload's length.
func (b *bodyTail) beyond(passed int64) (byte, bool) {
	if b == nil || b.n <= passed {
		return 0, false
	}
	return b.last, true
}

// withItemHeader names the item a finished upload became on HEAD too, as
// the finishing PATCH does: a client that lost that PATCH's response
// learns from HEAD that all bytes are there (Upload-Offset equals
// Upload-Length) and which item they became. The item is also in
// Upload-Metadata ("item"), which tus clients can read.
func withItemHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w = &itemHeaderWriter{ResponseWriter: w}
			r = r.WithContext(context.WithValue(r.Context(), headRequest{}, true))
		}
		h.ServeHTTP(w, r)
	})
}

type itemHeaderWriter struct{ http.ResponseWriter }

// headRequest marks the context of a HEAD (tusd passes the request's
// values on to the store): only a HEAD finishes a complete upload that
// nobody finished (see GetUpload).
type headRequest struct{}

func (w *itemHeaderWriter) WriteHeader(code int) {
	if md := w.Header().Get("Upload-Metadata"); md != "" {
		if item := tusd.ParseMetadataHeader(md)["item"]; item != "" {
			w.Header().Set(mediaItemHeader, item)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *itemHeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// mediaItemHeader names the item an upload became, on the response that
// finishes it and on HEAD afterwards.
const mediaItemHeader = "Kinbridge-Media-Item"

// tusStore maps tus uploads onto media upload sessions. The upload id is
// the session name with its slashes folded: "{child}.{session}".
type tusStore struct {
	media mediav1.MediaServiceClient
	// items remembers, for the moment between FinishUpload and the
	// response, which item an upload became.
	items sync.Map
}

// uploadID folds a session name into an upload id; ids hold no '.', so
// sessionName can unfold it.
func uploadID(n names.UploadSession) string { return n.Child + "." + n.ID }

// sessionName unfolds an upload id; false when it is not one uploadID makes.
func sessionName(id string) (string, bool) {
	child, sess, _ := strings.Cut(id, ".")
	n, err := names.ParseUploadSession(names.UploadSession{Child: child, ID: sess}.String())
	return n.String(), err == nil
}

// tusError turns a gRPC status into a tus response with the status an
// HTTP client expects.
func tusError(err error) error {
	st := status.Convert(err)
	code := runtime.HTTPStatusFromCode(st.Code())
	var hs *runtime.HTTPStatusError
	if errors.As(httpStatusFor(err), &hs) {
		code = hs.HTTPStatus
	}
	if st.Code() == codes.Aborted {
		// Someone else is writing or finishing this upload right now. tus
		// clients take 423 Locked as "retry later"; a 409 would make
		// tus-js-client give up on a HEAD and upload the file again.
		code = http.StatusLocked
	}
	reason := st.Code().String()
	for _, d := range st.Details() {
		if d, ok := d.(*errdetails.ErrorInfo); ok {
			reason = d.GetReason()
		}
	}
	e := tusd.NewError(reason, st.Message(), code)
	h := http.Header{}
	setRetryAfter(h, st)
	if v := h.Get("Retry-After"); v != "" {
		e.HTTPResponse.Header["Retry-After"] = v
	}
	return e
}

func (s *tusStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	if info.SizeIsDeferred {
		return nil, tusd.NewError("SIZE_REQUIRED", "Upload-Length is required: the size is checked before anything is stored", http.StatusBadRequest)
	}
	md := info.MetaData
	meta := &mediav1.UploadMetadata{Parent: md["child"], Title: md["title"], Caption: md["caption"],
		Filename: md["filename"], Sha256: md["sha256"], SizeBytes: info.Size}
	if k := md["kind"]; k != "" {
		v, ok := mediav1.MediaKind_value["MEDIA_KIND_"+strings.ToUpper(k)]
		if !ok {
			return nil, tusd.NewError("BAD_KIND", "kind must be photo, video, artwork or document", http.StatusBadRequest)
		}
		meta.Kind = mediav1.MediaKind(v)
	}
	sess, err := s.media.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: meta})
	if err != nil {
		return nil, tusError(err)
	}
	fi, err := sessionInfo(sess)
	if err != nil {
		return nil, err
	}
	return &tusUpload{store: s, name: sess.GetName(), info: fi}, nil
}

func sessionInfo(sess *mediav1.UploadSession) (tusd.FileInfo, error) {
	n, err := names.ParseUploadSession(sess.GetName())
	if err != nil {
		return tusd.FileInfo{}, tusError(status.Errorf(codes.Internal, "media answered a session without a session's name: %v", err))
	}
	m := sess.GetMetadata()
	info := tusd.FileInfo{
		ID:     uploadID(n),
		Size:   m.GetSizeBytes(),
		Offset: sess.GetCommittedOffset(),
		MetaData: tusd.MetaData{"child": m.GetParent(), "filename": m.GetFilename(), "title": m.GetTitle(),
			"kind": strings.ToLower(strings.TrimPrefix(m.GetKind().String(), "MEDIA_KIND_"))},
	}
	if item := sess.GetMediaItem(); item != "" {
		info.MetaData["item"] = item
	}
	return info, nil
}

func (s *tusStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	name, ok := sessionName(id)
	if !ok {
		return nil, tusd.ErrNotFound
	}
	sess, err := s.media.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: name})
	if status.Code(err) == codes.NotFound {
		return nil, tusd.ErrNotFound
	}
	if err != nil {
		return nil, tusError(err)
	}
	if head, _ := ctx.Value(headRequest{}).(bool); head && sess.GetMediaItem() == "" &&
		sess.GetCommittedOffset() == sess.GetMetadata().GetSizeBytes() {
		item, err := s.finishOrWait(ctx, name)
		if err != nil {
			return nil, err
		}
		sess.MediaItem = item
	}
	info, err := sessionInfo(sess)
	if err != nil {
		return nil, err
	}
	return &tusUpload{store: s, name: name, info: info}, nil
}

// finishOrWait turns a complete upload into its item for a HEAD: every
// byte is committed but the upload was not finished, because the gateway
// that took the last PATCH went away before finishing it, or because
// finishing (hashing, cleaning and storing a big file) is still under way.
// tus clients take Upload-Offset == Upload-Length as done, so the HEAD
// answers only once the item is known: it finishes the upload itself
// (finishing is idempotent), or waits for the finish under way, up to
// finishTimeout; after that it answers without the item.
func (s *tusStore) finishOrWait(ctx context.Context, name string) (string, error) {
	extendWrite(ctx, finishTimeout)
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	item, err := s.media.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: name})
	if err == nil {
		return item.GetName(), nil
	}
	if status.Code(err) != codes.Aborted {
		return "", tusError(err)
	}
	tick := time.NewTicker(finishPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", nil
		case <-tick.C:
		}
		sess, err := s.media.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: name})
		switch {
		case status.Code(err) == codes.NotFound:
			return "", tusd.ErrNotFound
		case err == nil && sess.GetMediaItem() != "":
			return sess.GetMediaItem(), nil
		}
	}
}

// finishPoll is how often a HEAD asks whether a finish under way is done.
const finishPoll = 250 * time.Millisecond

func (s *tusStore) AsTerminatableUpload(u tusd.Upload) tusd.TerminatableUpload { return u.(*tusUpload) }

// finishResponse tells the client which item its upload became.
func (s *tusStore) finishResponse(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	item, ok := s.items.LoadAndDelete(hook.Upload.ID)
	if !ok {
		return tusd.HTTPResponse{}, nil
	}
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{mediaItemHeader: item.(string)}}, nil
}

type tusUpload struct {
	store *tusStore
	name  string
	info  tusd.FileInfo
}

func (u *tusUpload) GetInfo(context.Context) (tusd.FileInfo, error) { return u.info, nil }

func (u *tusUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, tusd.ErrNotImplemented
}

// WriteChunk streams the request body into the session. Media commits
// bytes as they arrive, so after a dropped connection the committed offset
// (what tus HEAD reports) is exactly what is safely stored.
func (u *tusUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	tail, _ := ctx.Value(bodyTailKey{}).(*bodyTail)
	// One buffer for every message (see sendBuffer). Past Upload-Length,
	// the body's next byte goes too: media refuses the upload as too
	// large on seeing it, and drops it (see withBodyTail).
	body := &pastLength{src: src, tail: tail}
	sess, err := upload.WriteSession(ctx, u.store.media, u.name, offset, body, make([]byte, upload.ChunkSize), nil)
	var readErr *upload.ReadError
	if errors.As(err, &readErr) {
		err = nil // the client dropped: keep what was committed
	}
	switch status.Code(err) {
	case codes.OK, codes.Canceled, codes.Unavailable, codes.DeadlineExceeded:
	default:
		return 0, tusError(err) // refused: the client must hear why
	}
	if err != nil {
		// The stream broke; ask where the session stands, so tus reports
		// exactly what was committed.
		cur, gerr := u.store.media.GetUploadSession(context.WithoutCancel(ctx), &mediav1.GetUploadSessionRequest{Name: u.name})
		if gerr != nil {
			return 0, tusError(err)
		}
		u.info.Offset = cur.GetCommittedOffset()
		return cur.GetCommittedOffset() - offset, nil
	}
	u.info.Offset = sess.GetCommittedOffset()
	return sess.GetCommittedOffset() - offset, nil
}

// pastLength reads src, the body as tusd passes it on (cut at
// Upload-Length), and then, if the body went on past that, its first byte
// beyond (see bodyTail).
type pastLength struct {
	src     io.Reader
	tail    *bodyTail
	passed  int64
	ended   bool
	pending bool // the byte beyond is due, there was no room for it
	extra   byte
}

func (p *pastLength) Read(b []byte) (int, error) {
	if p.pending && len(b) > 0 {
		p.pending = false
		b[0] = p.extra
		return 1, io.EOF
	}
	if p.ended {
		return 0, io.EOF
	}
	n, err := p.src.Read(b)
	p.passed += int64(n)
	if err != io.EOF {
		return n, err
	}
	p.ended = true
	if extra, ok := p.tail.beyond(p.passed); ok {
		if n < len(b) {
			b[n] = extra
			return n + 1, io.EOF
		}
		p.pending, p.extra = true, extra
		return n, nil
	}
	return n, io.EOF
}

// finishTimeout bounds FinishUploadSession, which hashes, cleans and
// stores the whole file: far longer than the default deadline of a call.
const finishTimeout = 10 * time.Minute

// FinishUpload turns the complete session into a media item.
func (u *tusUpload) FinishUpload(ctx context.Context) error {
	extendWrite(ctx, finishTimeout) // the answer waits for the finish
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	item, err := u.store.media.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: u.name})
	if err != nil {
		return tusError(err)
	}
	u.store.items.Store(u.info.ID, item.GetName())
	return nil
}

// Terminate abandons the session (tus termination).
func (u *tusUpload) Terminate(ctx context.Context) error {
	if _, err := u.store.media.CancelUploadSession(ctx, &mediav1.CancelUploadSessionRequest{Name: u.name}); err != nil {
		return tusError(err)
	}
	return nil
}
