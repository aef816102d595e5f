package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every failure the gateway answers, whether from a service, from routing
// or from the gateway's own checks, has one shape: a google.rpc.Status as
// JSON ({"code", "message", "details"}), with the HTTP status of the
// standard mapping (INVALID_ARGUMENT 400, NOT_FOUND 404, ABORTED 409,
// DEADLINE_EXCEEDED 504, CANCELLED 499, ...).

var jsonMarshaler = &runtime.JSONPb{}

// errorHandler is the unary error handler, and the one writer of error
// bodies: it sets the headers a status implies and writes the status.
func errorHandler(_ context.Context, _ *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	httpStatus := 0
	var custom *runtime.HTTPStatusError
	if errors.As(err, &custom) {
		httpStatus, err = custom.HTTPStatus, custom.Err
	}
	st := status.Convert(err)
	if httpStatus == 0 {
		httpStatus = runtime.HTTPStatusFromCode(st.Code())
	}
	h := w.Header()
	h.Del("Trailer")
	h.Del("Transfer-Encoding")
	switch st.Code() {
	case codes.Unauthenticated:
		h.Set("WWW-Authenticate", `Bearer realm="kinbridge"`)
	case codes.ResourceExhausted, codes.Unavailable:
		if after := retryAfter(st); after != "" {
			h.Set("Retry-After", after)
		}
	}
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

// retryAfter is the Retry-After header of st: its RetryInfo's delay in
// whole seconds, rounded up, at least 1 (a rate limit, an open breaker);
// for an UNAVAILABLE without one (a service that just failed: "retry
// shortly"), 1; "" when st has no delay to tell.
func retryAfter(st *status.Status) string {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			secs := int(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
			return strconv.Itoa(max(secs, 1))
		}
	}
	if st.Code() == codes.Unavailable {
		return "1"
	}
	return ""
}

// streamErrorHandler turns an error in the middle of a server stream into
// the status sent as the stream's last message.
func streamErrorHandler(_ context.Context, err error) *status.Status {
	return status.Convert(err)
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
