package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
)

// Every failure the gateway answers, whether from a service, from routing
// or from the gateway's own checks, has one shape: a google.rpc.Status as
// JSON ({"code", "message", "details"}), with the HTTP status of the
// standard mapping (INVALID_ARGUMENT 400, NOT_FOUND 404, ABORTED 409,
// DEADLINE_EXCEEDED 504, CANCELLED 499, ...). Field violations name the
// fields as REST callers write them, by their JSON names
// ("milestone.achievedDate"; gRPC callers see "milestone.achieved_date").

var jsonMarshaler = &runtime.JSONPb{}

// errorHandler is the unary error handler, and the one writer of error
// bodies: it sets the headers a status implies and writes the status.
func errorHandler(ctx context.Context, _ *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if refusal := bodyRefusal(r); refusal != nil {
		err = refusal // the body went over its limit, whatever the handler made of that
	}
	httpStatus := 0
	var custom *runtime.HTTPStatusError
	if errors.As(err, &custom) {
		httpStatus, err = custom.HTTPStatus, custom.Err
	}
	st := jsonFieldPaths(ctx, status.Convert(err))
	if httpStatus == 0 {
		httpStatus = runtime.HTTPStatusFromCode(st.Code())
	}
	h := w.Header()
	h.Del("Trailer")
	h.Del("Transfer-Encoding")
	if st.Code() == codes.Unauthenticated {
		h.Set("WWW-Authenticate", `Bearer realm="kinbridge"`)
	}
	setRetryAfter(h, st)
	// The body names the trace too, for reports that quote only the body.
	if sc := trace.SpanContextFromContext(r.Context()); sc.HasTraceID() {
		if withInfo, err := st.WithDetails(&errdetails.RequestInfo{RequestId: sc.TraceID().String()}); err == nil {
			st = withInfo
		}
	}
	body, merr := m.Marshal(st.Proto())
	if merr != nil {
		httpStatus = http.StatusInternalServerError
		body = []byte(`{"code": 13, "message": "failed to marshal error"}`)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body) // the client is gone if this fails
}

// setRetryAfter sets the Retry-After header of st's answer, if it has one
// (retryAfter).
func setRetryAfter(h http.Header, st *status.Status) {
	if after := retryAfter(st); after != "" {
		h.Set("Retry-After", after)
	}
}

// retryAfter is the Retry-After header of st, in whole seconds rounded up,
// at least 1: its RetryInfo's delay (a rate limit, an open breaker, a cap
// on uploads that frees when abandoned ones expire); 1 for an UNAVAILABLE
// without one (a service that just failed: "retry shortly") and for a
// RESOURCE_EXHAUSTED without one, except a cap on what the caller holds
// open, which waiting does not lift; "" otherwise.
func retryAfter(st *status.Status) string {
	if st.Code() != codes.ResourceExhausted && st.Code() != codes.Unavailable {
		return ""
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			secs := int(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
			return strconv.Itoa(max(secs, 1))
		}
	}
	if st.Code() == codes.Unavailable || !capReached(st) {
		return "1"
	}
	return ""
}

// capReached says st refuses for a cap on what the caller holds open (live
// feeds, subscriptions), which waiting does not lift: the caller must close
// something first, so no Retry-After invites a retry on a timer.
func capReached(st *status.Status) bool {
	return errinfo.ParseNotificationReason(errinfo.ReasonOf(st, errinfo.NotificationDomain)) != notificationv1.ErrorReason_ERROR_REASON_UNSPECIFIED
}

// streamErrorHandler turns an error in the middle of a server stream into
// the status sent as the stream's last message. When the stream fails
// before its first message, grpc-gateway answers with the status's HTTP
// code (429 for RESOURCE_EXHAUSTED) after this returns: the Retry-After
// that goes with it is set here, on the writer exposeWriter kept.
func streamErrorHandler(ctx context.Context, err error) *status.Status {
	st := jsonFieldPaths(ctx, status.Convert(err))
	if w, ok := ctx.Value(responseWriterKey{}).(http.ResponseWriter); ok {
		setRetryAfter(w.Header(), st) // no effect once the stream has begun
	}
	return st
}

type responseWriterKey struct{}

// exposeWriter keeps the response writer in the request's context, for
// streamErrorHandler, which grpc-gateway gives only the context. Only the
// streamed routes need it (routeTelemetry): a unary call's errors go
// through errorHandler, which has the writer.
func exposeWriter(w http.ResponseWriter, r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), responseWriterKey{}, w))
}

// routingErrorHandler answers requests no route matched, in the same shape.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var st *status.Status
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		st = status.Newf(codes.Unimplemented, "method %s is not allowed on %s", r.Method, r.URL.Path)
	case http.StatusBadRequest:
		st = status.New(codes.InvalidArgument, "bad request")
	default:
		st = status.Newf(codes.NotFound, "no route for %s %s", r.Method, r.URL.Path)
	}
	errorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
}

// writeError answers a request outside grpc-gateway (the gateway's own
// checks) in the standard shape.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	errorHandler(r.Context(), nil, jsonMarshaler, w, r, err)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

// jsonFieldPaths rewrites the field paths of st's google.rpc.BadRequest
// details, which the services write with proto names relative to the
// request message, with the JSON names REST callers use, looked up in the
// descriptor of the request of the method ctx's route calls. The message,
// which quotes the paths, follows. Without a method (a route served by
// hand, whose violations already name what the caller sent) st is
// unchanged.
func jsonFieldPaths(ctx context.Context, st *status.Status) *status.Status {
	if st.Code() != codes.InvalidArgument && st.Code() != codes.FailedPrecondition && st.Code() != codes.OutOfRange {
		return st
	}
	request := requestDescriptor(ctx)
	if request == nil {
		return st
	}
	sp := st.Proto()
	changed := false
	for i, d := range sp.GetDetails() {
		var br errdetails.BadRequest
		if !d.MessageIs(&br) || d.UnmarshalTo(&br) != nil {
			continue
		}
		for _, fv := range br.GetFieldViolations() {
			path := jsonPath(request, fv.GetField())
			if path == fv.GetField() {
				continue
			}
			// validate.InvalidArgument's message: "invalid request: p1: d1; p2: d2".
			for _, sep := range []string{": ", "; "} {
				sp.Message = strings.ReplaceAll(sp.GetMessage(), sep+fv.GetField()+": ", sep+path+": ")
			}
			fv.Field = path
			changed = true
		}
		if a, err := anypb.New(&br); err == nil {
			sp.Details[i] = a
		}
	}
	if !changed {
		return st
	}
	return status.FromProto(sp)
}

// requestDescriptor is the request message of the gRPC method whose route
// ctx is in, nil outside grpc-gateway's routes.
func requestDescriptor(ctx context.Context) protoreflect.MessageDescriptor {
	method, ok := runtime.RPCMethod(ctx) // "/kinbridge.progress.v1.ProgressService/CreateChild"
	if !ok {
		return nil
	}
	service, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if !ok {
		return nil
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return nil
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil
	}
	if md := sd.Methods().ByName(protoreflect.Name(name)); md != nil {
		return md.Input()
	}
	return nil
}

// jsonPath writes path, a field path as protovalidate prints it (proto
// names, dotted, with subscripts: `grading_scale.grades[1].letter`,
// `labels["a.b"]`), with each field's JSON name:
// `gradingScale.grades[1].letter`. From the first name the message does not
// have, the rest is kept as it is.
func jsonPath(md protoreflect.MessageDescriptor, path string) string {
	var out strings.Builder
	rest := path
	for rest != "" && md != nil {
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			end = len(rest)
		}
		name := rest[:end]
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			fd = md.Fields().ByJSONName(name)
		}
		if fd == nil {
			break
		}
		out.WriteString(fd.JSONName())
		rest = rest[end:]
		for strings.HasPrefix(rest, "[") { // subscripts: [3], ["key"], [true]
			n := subscriptLen(rest)
			if n == 0 {
				return out.String() + rest
			}
			out.WriteString(rest[:n])
			rest = rest[n:]
		}
		if fd.IsMap() {
			md = fd.MapValue().Message()
		} else {
			md = fd.Message()
		}
		if !strings.HasPrefix(rest, ".") {
			break
		}
		out.WriteByte('.')
		rest = rest[1:]
	}
	return out.String() + rest
}

// subscriptLen is the length of the subscript s starts with, quotes and
// escapes considered, or 0 if it does not close.
func subscriptLen(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == ']':
			return i + 1
		}
	}
	return 0
}
