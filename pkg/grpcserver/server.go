// Package grpcserver builds the gRPC server every Kinbridge service runs:
// the same interceptors in the same order, health and reflection, tracing
// and metrics, and a shutdown that drains in-flight calls.
package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

// Options configure a Server. Verifier is required: no service runs
// without checking who calls it.
type Options struct {
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Verifier       *auth.Verifier
	// Policy says which identity each method needs; nil means auth.DefaultPolicy.
	Policy func(fullMethod string) auth.Requirement
	// RateLimiter limits each user and service identity; nil limits nothing.
	RateLimiter *ratelimit.Limiter
	// MaxConcurrentStreams bounds the calls one connection may have open at
	// once (HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS): a client's further
	// calls wait until one ends. Zero means DefaultMaxConcurrentStreams.
	MaxConcurrentStreams uint32
	// Ready, when set, is asked every ReadyInterval whether the server can
	// answer (its database answers, say): after two failures in a row its
	// health turns NOT_SERVING, so callers balancing over instances go to
	// another, and back to SERVING at the first success.
	Ready         func(context.Context) error
	ReadyInterval time.Duration
	// TLS, when set, makes the server serve TLS only (requiring client
	// certificates when it says so); plaintext when nil.
	TLS *tls.Config
}

// DefaultMaxConcurrentStreams is Options.MaxConcurrentStreams' default:
// enough for a gateway carrying many users' transfers over one
// connection, far below what would let one client pile up work.
const DefaultMaxConcurrentStreams = 256

// Server is a grpc.Server with its health service.
type Server struct {
	*grpc.Server
	health *health.Server
	logger *slog.Logger
	// streamsDone ends every open stream when shutdown begins: a stream
	// may live for hours (a live feed), so waiting for it would only burn
	// the drain time. Its client resumes elsewhere.
	streamsDone context.Context
	endStreams  context.CancelFunc
	ready       func(context.Context) error
	readyEvery  time.Duration
}

// LivenessService is the health service name that says only whether the
// process serves: SERVING from start until shutdown, whatever Ready says.
// A liveness probe asks it, so a database outage takes instances out of
// rotation (the overall status, "") without restarting them all.
const LivenessService = "kinbridge.liveness"

// DefaultReadyInterval is Options.ReadyInterval's default.
const DefaultReadyInterval = 2 * time.Second

// MaxConnectionAge is how long a caller's connection takes new calls
// before the server asks it to reconnect (gRPC adds ±10% jitter).
const MaxConnectionAge = 5 * time.Minute

// MaxRecvMessageBytes is the largest message a server takes: the APIs'
// largest field is a 4 MiB upload chunk (media), and the message around it
// adds a few bytes, which gRPC's default limit of exactly 4 MiB refuses.
const MaxRecvMessageBytes = 4<<20 + 64<<10

// New returns a Server with interceptors in this order: panic recovery,
// logging, authentication, rate limits (by the caller authentication
// found), validation. Recovery is outermost so a panic
// anywhere becomes INTERNAL and is logged once.
func New(opts Options) (*Server, error) {
	if opts.Verifier == nil {
		return nil, errors.New("grpcserver: a Verifier is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Policy == nil {
		opts.Policy = auth.DefaultPolicy
	}
	if opts.MaxConcurrentStreams == 0 {
		opts.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	v, err := validate.New()
	if err != nil {
		return nil, err
	}
	otelOpts := []otelgrpc.Option{}
	if opts.TracerProvider != nil {
		otelOpts = append(otelOpts, otelgrpc.WithTracerProvider(opts.TracerProvider))
	}
	if opts.MeterProvider != nil {
		otelOpts = append(otelOpts, otelgrpc.WithMeterProvider(opts.MeterProvider))
	}
	streamsDone, endStreams := context.WithCancel(context.Background())
	var transport []grpc.ServerOption
	if opts.TLS != nil {
		// credentials.NewTLS adds h2 to the ALPN protocols offered.
		transport = append(transport, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	gs := grpc.NewServer(append(transport,
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelOpts...)),
		grpc.ChainUnaryInterceptor(
			recoverUnary(opts.Logger),
			logUnary(opts.Logger),
			auth.UnaryServerInterceptor(opts.Verifier, opts.Policy),
			ratelimit.UnaryServerInterceptor(opts.RateLimiter),
			v.UnaryServerInterceptor(),
		),
		grpc.ChainStreamInterceptor(
			endOnShutdown(streamsDone),
			recoverStream(opts.Logger),
			logStream(opts.Logger),
			auth.StreamServerInterceptor(opts.Verifier, opts.Policy),
			ratelimit.StreamServerInterceptor(opts.RateLimiter),
			v.StreamServerInterceptor(),
		),
		// A fixed pool of workers serves the calls instead of a new
		// goroutine per call: a fresh goroutine starts with a small stack
		// that the chain's depth (interceptors, tracing, SQL) grows every
		// time, a worker's stack stays grown. One per core, so the pool
		// never queues calls behind a busy worker that a core could run
		// (grpc-go starts a goroutine when every worker is busy).
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
		grpc.MaxRecvMsgSize(MaxRecvMessageBytes),
		grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams),
		// Clients ping every 30s; allow that without a GOAWAY.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// MaxConnectionAge: every few minutes a caller is asked (GOAWAY)
		// to open new connections for new calls, resolving its DNS name
		// again, so instances added since (an autoscaler's pods) get calls
		// too. Calls and streams in flight run on: no grace limit.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second, MaxConnectionAge: MaxConnectionAge}),
	)...)
	hs := health.NewServer()
	hs.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	if opts.ReadyInterval <= 0 {
		opts.ReadyInterval = DefaultReadyInterval
	}
	return &Server{Server: gs, health: hs, logger: opts.Logger, streamsDone: streamsDone, endStreams: endStreams,
		ready: opts.Ready, readyEvery: opts.ReadyInterval}, nil
}

// Serve serves on lis until ctx is done, then marks itself NOT_SERVING,
// lets in-flight calls finish for up to drain, and stops. It returns nil
// after a shutdown asked for by ctx.
func (s *Server) Serve(ctx context.Context, lis net.Listener, drain time.Duration) error {
	s.health.Resume()
	if s.ready != nil {
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go s.followReadiness(watchCtx)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Server.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.health.Shutdown()
	s.endStreams()
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(drain)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.logger.Warn("drain timed out; cancelling the calls still running", slog.Duration("drain", drain))
		s.Stop()
		<-done
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// followReadiness sets the server's health from Ready until ctx is done.
// Shutdown's NOT_SERVING is final: the health server ignores changes after
// it.
func (s *Server) followReadiness(ctx context.Context) {
	ticker := time.NewTicker(s.readyEvery)
	defer ticker.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		cctx, cancel := context.WithTimeout(ctx, s.readyEvery)
		err := s.ready(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil && failures >= 2:
			s.logger.Info("ready again: serving")
			s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			failures = 0
		case err == nil:
			failures = 0
		default:
			failures++
			if failures == 2 {
				s.logger.Warn("not ready: NOT_SERVING until it is", slog.Any("error", err))
				s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			}
		}
	}
}

// endOnShutdown cancels a stream's context when shutdown begins.
func endOnShutdown(shutdown context.Context) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		stop := context.AfterFunc(shutdown, cancel)
		defer stop()
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

func recoverUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicked(ctx, logger, info.FullMethod, r)
			}
		}()
		return handler(ctx, req)
	}
}

func recoverStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicked(ss.Context(), logger, info.FullMethod, r)
			}
		}()
		return handler(srv, ss)
	}
}

func panicked(ctx context.Context, logger *slog.Logger, method string, r any) error {
	logger.ErrorContext(ctx, "panic in handler", slog.String("rpc.method", method),
		slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(debug.Stack())))
	return status.Error(codes.Internal, "internal error")
}

// traceIDHeader is the response header that names the call's trace.
const traceIDHeader = "x-trace-id"

// sendTraceID tells the caller the trace id of their call.
func sendTraceID(ctx context.Context) {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		_ = grpc.SetHeader(ctx, metadata.Pairs(traceIDHeader, sc.TraceID().String()))
	}
}

func logUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		sendTraceID(ctx)
		start := time.Now()
		resp, err := handler(ctx, req)
		logCall(ctx, logger, info.FullMethod, start, err)
		return resp, err
	}
}

func logStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if sc := trace.SpanContextFromContext(ss.Context()); sc.HasTraceID() {
			_ = ss.SetHeader(metadata.Pairs(traceIDHeader, sc.TraceID().String()))
		}
		start := time.Now()
		err := handler(srv, ss)
		logCall(ss.Context(), logger, info.FullMethod, start, err)
		return err
	}
}

// logCall logs failures the server is responsible for as errors, refusals
// (bad input, no access) at info, and successes at debug so a busy
// service's log stays readable.
func logCall(ctx context.Context, logger *slog.Logger, method string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelDebug
	switch code {
	case codes.OK:
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	// Successes log at debug, which a production log leaves out: building
	// the attributes first would cost every call their allocations for a
	// record dropped at once.
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("rpc.method", method),
		slog.String("rpc.code", code.String()),
		slog.Duration("duration", time.Since(start)),
	}
	if p, ok := auth.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("principal", p.Subject))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
	}
	logger.LogAttrs(ctx, level, "rpc", attrs...)
}
