package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kinbridge/kinbridge/pkg/httpserver"
)

// Limits before work. Every request gets, before any handler runs, the
// small limits of a JSON call: a body of at most Limits.JSONBytes, enforced
// while it is read (a Content-Length over it is refused before the first
// byte), and the HTTP server's read and write timeouts. A route that needs
// more opts in at its start, before it reads anything:
//
//   - takeUpload (media:upload, tus): a body up to the upload limit of its
//     kind, read for as long as its bytes keep coming (each read may wait
//     up to the read timeout), answered within the write timeout from when
//     the answer begins;
//   - streamAnswer (the live feeds, :content downloads): no read deadline,
//     and each write of the answer gets the write timeout.
//
// So a route added later gets the small limits unless it asks for more.
// Tokens are checked before any of this (requireUserToken): a request
// without a valid one is answered 401 without its body being read. Any
// answer given before the body was read to its end closes the connection
// rather than read the rest (bodyGuard).

// DefaultMaxJSONBytes is the default of Limits.JSONBytes.
const DefaultMaxJSONBytes = 1 << 20

// Upload limits the gateway applies when Config.Limits leaves them unset:
// the media service's defaults (services/media), which the gateway may not
// import. The media service checks its own limits too.
const (
	DefaultMaxPhotoBytes = 50 << 20
	DefaultMaxVideoBytes = 4 << 30
)

// Limits bound what one request may bring and how long it may take. Zero
// fields take their defaults.
type Limits struct {
	// JSONBytes bounds the body of every route that takes no file: every
	// JSON call, and any route that does not opt into more.
	JSONBytes int64
	// PhotoBytes bounds the body of a photo, artwork or document upload,
	// VideoBytes a video's; an upload of no stated kind may be as large as
	// the larger. Set them as the media service's limits are set.
	PhotoBytes int64
	VideoBytes int64
	// Timeouts are the HTTP server's; the routes that take or give long
	// bodies apply them per read or per write instead (see above).
	Timeouts httpserver.Timeouts
}

func (l Limits) withDefaults() Limits {
	def := func(v, d int64) int64 {
		if v <= 0 {
			return d
		}
		return v
	}
	return Limits{
		JSONBytes:  def(l.JSONBytes, DefaultMaxJSONBytes),
		PhotoBytes: def(l.PhotoBytes, DefaultMaxPhotoBytes),
		VideoBytes: def(l.VideoBytes, DefaultMaxVideoBytes),
		Timeouts:   l.Timeouts.WithDefaults(),
	}
}

// upload returns the body limit of an upload of kind ("" when unstated)
// and the word for what it is.
func (l Limits) upload(kind string) (int64, string) {
	switch kind {
	case "photo", "artwork", "document":
		return l.PhotoBytes, "a " + kind
	case "video":
		return l.VideoBytes, "a video"
	}
	return l.largestUpload(), "an upload"
}

// largestUpload is the largest body an upload of any kind may have.
func (l Limits) largestUpload() int64 { return max(l.PhotoBytes, l.VideoBytes) }

// requestLimits are one request's limits, found in its context.
type requestLimits struct {
	rc       *http.ResponseController
	body     *limitedBody
	timeouts httpserver.Timeouts
}

type requestLimitsKey struct{}

// withLimits gives r the default limits: its body is bounded by
// l.JSONBytes while it is read. A body that is not read to its end (too
// large, refused before it was read, or of no use to the route) is not
// read on either: the answer, returned wrapped, closes the connection
// (bodyGuard), instead of net/http reading up to 256 KiB more of it to
// reuse the connection.
func withLimits(w http.ResponseWriter, r *http.Request, l Limits) (http.ResponseWriter, *http.Request) {
	rl := &requestLimits{rc: http.NewResponseController(w), timeouts: l.Timeouts}
	r = r.WithContext(context.WithValue(r.Context(), requestLimitsKey{}, rl))
	if r.Body == nil || r.Body == http.NoBody {
		return w, r
	}
	rl.body = &limitedBody{w: w, orig: r.Body, declared: r.ContentLength, rc: rl.rc}
	rl.body.setLimit(l.JSONBytes)
	r.Body = rl.body
	return &bodyGuard{ResponseWriter: w, rl: rl}, r
}

func limitsOf(ctx context.Context) *requestLimits {
	rl, _ := ctx.Value(requestLimitsKey{}).(*requestLimits)
	return rl
}

// takeUpload lets r's body be up to limit bytes, read for as long as its
// bytes keep coming: each read may wait up to the read timeout, so a
// stalled upload is cut while a slow one goes on. The answer comes after
// the whole body is stored, which may take a while: its write deadline is
// set when it begins: w, returned wrapped, does that (answerWriter). It
// must run before r's body is read.
func takeUpload(w http.ResponseWriter, r *http.Request, limit int64) http.ResponseWriter {
	rl := limitsOf(r.Context())
	if rl == nil {
		return w
	}
	if rl.body != nil {
		rl.body.setLimit(limit)
		rl.body.idle = rl.timeouts.Read
	}
	_ = rl.rc.SetReadDeadline(time.Now().Add(rl.timeouts.Read))
	_ = rl.rc.SetWriteDeadline(time.Time{})
	return &answerWriter{ResponseWriter: w, rc: rl.rc, timeout: rl.timeouts.Write}
}

// streamAnswer prepares r for an answer that may go on for long (a live
// feed, a download): it has no read deadline (there is nothing more to
// read, and the server's background read hitting one would end the
// request), and w, returned wrapped, gives each write the write timeout,
// so a client that stops reading is cut.
func streamAnswer(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	rl := limitsOf(r.Context())
	if rl == nil {
		return w
	}
	_ = rl.rc.SetReadDeadline(time.Time{})
	_ = rl.rc.SetWriteDeadline(time.Time{})
	return &answerWriter{ResponseWriter: w, rc: rl.rc, timeout: rl.timeouts.Write}
}

// holdConnection takes r's connection out of the server's timeouts, for a
// WebSocket: its library writes with deadlines of its own.
func holdConnection(r *http.Request) {
	if rl := limitsOf(r.Context()); rl != nil {
		_ = rl.rc.SetReadDeadline(time.Time{})
		_ = rl.rc.SetWriteDeadline(time.Time{})
	}
}

// extendWrite gives the answer to the request of ctx d more, from now, to
// be written: for answers that wait on long work (finishing a big upload).
func extendWrite(ctx context.Context, d time.Duration) {
	if rl := limitsOf(ctx); rl != nil {
		_ = rl.rc.SetWriteDeadline(time.Now().Add(d + rl.timeouts.Write))
	}
}

// bodyGuard closes the connection after an answer given before the
// request's body was read to its end, and stops reading it at once.
type bodyGuard struct {
	http.ResponseWriter
	rl      *requestLimits
	checked bool
}

func (g *bodyGuard) check() {
	if g.checked {
		return
	}
	g.checked = true
	if b := g.rl.body; !b.eof {
		g.Header().Set("Connection", "close")
		_ = g.rl.rc.SetReadDeadline(time.Now())
	}
}

func (g *bodyGuard) WriteHeader(code int) {
	g.check()
	g.ResponseWriter.WriteHeader(code)
}

func (g *bodyGuard) Write(p []byte) (int, error) {
	g.check()
	return g.ResponseWriter.Write(p)
}

func (g *bodyGuard) Flush() {
	g.check()
	_ = g.rl.rc.Flush()
}

func (g *bodyGuard) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// streamedRoutes returns the route templates of the server-streaming
// methods of services, as grpc-gateway names them: their answers are
// live feeds (an NDJSON stream of notifications), given the timeouts of a
// long answer (streamAnswer) by routeTelemetry.
func streamedRoutes(services ...protoreflect.ServiceDescriptor) map[string]bool {
	out := map[string]bool{}
	for _, svc := range services {
		methods := svc.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			if !m.IsStreamingServer() {
				continue
			}
			rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
			for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				if path := r.GetGet() + r.GetPost(); path != "" {
					out[path] = true
				}
			}
		}
	}
	return out
}

// answerWriter gives each write of an answer the write timeout from when
// it begins.
type answerWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (a *answerWriter) extend() { _ = a.rc.SetWriteDeadline(time.Now().Add(a.timeout)) }

func (a *answerWriter) WriteHeader(code int) {
	a.extend()
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerWriter) Write(p []byte) (int, error) {
	a.extend()
	return a.ResponseWriter.Write(p)
}

func (a *answerWriter) Flush() {
	a.extend()
	_ = a.rc.Flush()
}

func (a *answerWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// limitedBody is a request body bounded while it is read: a declared
// Content-Length over the limit fails the first read before any byte is
// taken, and reading past the limit fails (http.MaxBytesReader, which also
// has the server close the connection after the answer instead of reading
// on). A read that fails so marks the body, and the answer is 413
// (tooLargeError).
type limitedBody struct {
	w        http.ResponseWriter
	orig     io.ReadCloser
	declared int64 // Content-Length, -1 when unknown
	rc       *http.ResponseController

	r       io.ReadCloser // orig through http.MaxBytesReader
	limit   int64
	idle    time.Duration // when set, each read moves the read deadline this far on
	started bool
	over    bool // refused for going over the limit
	eof     bool // read to its end
}

func (b *limitedBody) setLimit(n int64) {
	b.limit = n
	b.r = http.MaxBytesReader(b.w, b.orig, n)
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if !b.started {
		b.started = true
		if b.declared > b.limit {
			b.over = true
			return 0, &http.MaxBytesError{Limit: b.limit}
		}
	}
	n, err := b.r.Read(p)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		b.eof = true
	case errors.As(err, &tooLarge):
		b.over = true
	}
	if n > 0 && b.idle > 0 {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.orig.Close() }

// bodyRefusal is the answer to r when reading its body failed for going
// over its limit, nil otherwise: whatever error the handler saw then, the
// answer is 413.
func bodyRefusal(r *http.Request) error {
	rl := limitsOf(r.Context())
	if rl == nil || rl.body == nil || !rl.body.over {
		return nil
	}
	return tooLargeError(rl.body.limit, "this request")
}

// tooLargeError refuses a body over limit bytes with 413.
func tooLargeError(limit int64, what string) error {
	st := status.Newf(codes.OutOfRange, "the body of %s is over the limit of %d bytes", what, limit)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "TOO_LARGE", Domain: "gateway.kinbridge",
		Metadata: map[string]string{"limit_bytes": strconv.FormatInt(limit, 10)}}); err == nil {
		st = d
	}
	return &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: st.Err()}
}

// bodyReadError is the answer to a request whose body could not be read
// to its end: 408 when it stopped coming for longer than the read timeout,
// 499 (cancelled) when it broke off. The read error names the connection's
// addresses: it stays out of the answer. (A body over its limit is
// answered 413 all the same: see bodyRefusal.)
func bodyReadError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestTimeout,
			Err: status.Error(codes.DeadlineExceeded, "the request body stopped arriving for longer than the server's read timeout")}
	}
	return status.Error(codes.Canceled, "the request body broke off before its end")
}

// declaredTooLarge refuses, before reading it, a body that declares more
// than limit bytes.
func declaredTooLarge(w http.ResponseWriter, r *http.Request, limit int64, what string) bool {
	if r.ContentLength <= limit {
		return false
	}
	writeError(w, r, tooLargeError(limit, what))
	return true
}
