// Package grpcclient builds the connections Kinbridge processes use to call
// each other: traced, kept alive, with a default deadline, retrying only
// the methods the contracts declare idempotent, and failing fast through a
// [Breaker] while the service called does not answer.
package grpcclient

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// DefaultTimeout bounds a unary call whose context has no deadline, so a
// stuck neighbour can never hold a caller forever.
const DefaultTimeout = 10 * time.Second

// Options configure a connection.
type Options struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Credentials are attached to every call: a service identity for
	// service-to-service calls; nil when the caller forwards a user's token.
	Credentials credentials.PerRPCCredentials
	// Timeout replaces DefaultTimeout when positive.
	Timeout time.Duration
	// Services whose idempotent methods (idempotency_level NO_SIDE_EFFECTS
	// or IDEMPOTENT in the proto) are retried on UNAVAILABLE.
	Services []protoreflect.ServiceDescriptor
	// Breaker, when set, follows every call on the connection; share one
	// between the connections a process has to the same service.
	Breaker *Breaker
	// TLS, when set, secures the connection (the server's certificate is
	// checked against its RootCAs, and GetClientCertificate answers a
	// server requiring mutual TLS); plaintext when nil.
	TLS *tls.Config
	// DialOptions are added after the defaults, for what one caller needs
	// of its connections alone (the gateway's handling of errors that no
	// service sent, for example).
	DialOptions []grpc.DialOption
}

// New returns a lazily connecting client for target ("127.0.0.1:9101"), or
// for every instance of a service, given as a DNS name with an address per
// instance ("dns:///progress:9101") or as a comma-separated list of
// host:port ("10.77.0.11:9101,10.77.0.12:9101"): calls then go round the
// instances that are up and healthy (see [balancing]), and a retried
// idempotent call goes to the next one.
//
// Transport security is opts.TLS: off unless given, for the suite on
// loopback or a private network, where service identity travels in signed
// tokens.
func New(target string, opts Options) (*grpc.ClientConn, error) {
	target, resolve, balanced, err := instances(target)
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
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	transport := insecure.NewCredentials()
	if opts.TLS != nil {
		transport = credentials.NewTLS(opts.TLS)
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelOpts...)),
		grpc.WithStatsHandler(answerWatch{}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		// gRPC waits up to two minutes between attempts to reconnect to a
		// neighbour that went away; capped at a few seconds, one that comes
		// back is found soon after (and its breaker's probe finds it), at the
		// cost of a connection attempt every few seconds while it is down.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnectBackoff, MinConnectTimeout: 20 * time.Second}),
		grpc.WithChainUnaryInterceptor(defaultDeadline(timeout)),
		grpc.WithDefaultServiceConfig(ServiceConfig(opts.Services, balanced)),
	}
	dialOpts = append(dialOpts, resolve...)
	if opts.Breaker != nil {
		// Inside the default deadline, which the breaker judges deadlines
		// by; outside the callers' own interceptors (the gateway's error
		// cleaning), which a refused call never reaches.
		dialOpts = append(dialOpts,
			grpc.WithChainUnaryInterceptor(opts.Breaker.unary(timeout)),
			grpc.WithChainStreamInterceptor(opts.Breaker.stream(timeout)))
	}
	if opts.Credentials != nil {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(opts.Credentials))
	}
	dialOpts = append(dialOpts, opts.DialOptions...)
	return grpc.NewClient(target, dialOpts...)
}

// reconnectBackoff is gRPC's default with the cap at 5s instead of 120s.
var reconnectBackoff = backoff.Config{BaseDelay: time.Second, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second}

func defaultDeadline(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// ServiceConfig returns the gRPC service config that retries the
// idempotent methods of services on UNAVAILABLE. Non-idempotent methods
// (creates, for example) are never retried: a retry could record twice.
// balanced adds round_robin over the healthy instances of a DNS name or a list.
func ServiceConfig(services []protoreflect.ServiceDescriptor, balanced bool) string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method"`
	}
	var names []name
	for _, sd := range services {
		methods := sd.Methods()
		for i := range methods.Len() {
			md := methods.Get(i)
			opts, ok := md.Options().(*descriptorpb.MethodOptions)
			if !ok {
				continue
			}
			switch opts.GetIdempotencyLevel() {
			case descriptorpb.MethodOptions_NO_SIDE_EFFECTS, descriptorpb.MethodOptions_IDEMPOTENT:
				names = append(names, name{Service: string(sd.FullName()), Method: string(md.Name())})
			}
		}
	}
	cfg := map[string]any{}
	if balanced {
		balancing(cfg)
	}
	if len(names) > 0 {
		cfg["methodConfig"] = []any{map[string]any{
			"name": names,
			"retryPolicy": map[string]any{
				"maxAttempts":          4,
				"initialBackoff":       "0.1s",
				"maxBackoff":           "2s",
				"backoffMultiplier":    2.0,
				"retryableStatusCodes": []string{"UNAVAILABLE"},
			},
		}}
	}
	b, _ := json.Marshal(cfg) // maps of strings and numbers always marshal
	return string(b)
}
