package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/grpcclient"
)

// When a service does not answer (it is down, or the connection to it
// broke), the error comes from grpc-go itself, and its message names what
// was dialled: `connection error: desc = "transport: Error while dialing:
// dial tcp 127.0.0.1:9101: connect: connection refused"`. grpc-gateway
// would pass that on to the browser. upstreamErrors keeps the statuses a
// service sent as they are, and replaces the ones the connection made up by
// a message that names only the service; the original goes to the log.
//
// Which statuses the service sent, grpcclient's connections tell
// (grpcclient.WatchAnswer): those that came with the service's trailers.
type upstreamErrors struct {
	service string // "progress", as callers know it
	logger  *slog.Logger
}

func (u upstreamErrors) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(u.unary),
		grpc.WithChainStreamInterceptor(u.stream),
	}
}

func (u upstreamErrors) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	actx, answered := grpcclient.WatchAnswer(ctx)
	return u.clean(ctx, method, invoker(actx, method, req, reply, cc, opts...), answered)
}

func (u upstreamErrors) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	actx, answered := grpcclient.WatchAnswer(ctx)
	cs, err := streamer(actx, desc, cc, method, opts...)
	if err != nil {
		return nil, u.clean(ctx, method, err, answered)
	}
	return &cleanStream{ClientStream: cs, u: u, ctx: ctx, method: method, answered: answered}, nil
}

// clean returns err, or, when the service did not send it, a status of the
// same code that names only the service.
func (u upstreamErrors) clean(ctx context.Context, method string, err error, answered func() bool) error {
	if err == nil || errors.Is(err, io.EOF) || answered() {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err // not about the call (a message that cannot be encoded, say)
	}
	if st.Code() == codes.Canceled {
		return status.Error(codes.Canceled, "request canceled") // the caller left: nothing to log
	}
	u.logger.WarnContext(ctx, "upstream call ended without an answer from the service",
		slog.String("service", u.service), slog.String("method", method), slog.Any("error", err))
	switch st.Code() {
	case codes.Unavailable:
		return status.Errorf(codes.Unavailable, "the %s service is unavailable; retry shortly", u.service)
	case codes.DeadlineExceeded:
		return status.Errorf(codes.DeadlineExceeded, "the %s service did not answer in time", u.service)
	default:
		return status.Errorf(st.Code(), "the call to the %s service failed", u.service)
	}
}

// cleanStream cleans the errors of a stream's operations the same way.
type cleanStream struct {
	grpc.ClientStream
	u        upstreamErrors
	ctx      context.Context
	method   string
	answered func() bool
}

func (s *cleanStream) SendMsg(m any) error {
	return s.u.clean(s.ctx, s.method, s.ClientStream.SendMsg(m), s.answered)
}

func (s *cleanStream) RecvMsg(m any) error {
	return s.u.clean(s.ctx, s.method, s.ClientStream.RecvMsg(m), s.answered)
}

func (s *cleanStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	return md, s.u.clean(s.ctx, s.method, err, s.answered)
}

func (s *cleanStream) CloseSend() error {
	return s.u.clean(s.ctx, s.method, s.ClientStream.CloseSend(), s.answered)
}
