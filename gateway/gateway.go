// Package gateway is the REST/JSON facade web frontends use: grpc-gateway
// routes over the services' public gRPC APIs, plus health, the OpenAPI spec
// and its docs page. It speaks to the services over gRPC like any other
// client and never routes their service-only APIs.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
)

// Config is what the gateway needs.
type Config struct {
	// ProgressTarget is the progress service's gRPC address.
	ProgressTarget string
	// Verifier checks bearer tokens before anything is forwarded, so a
	// service identity can never enter from outside.
	Verifier *auth.Verifier
	// CORSOrigins may call from a browser; "*" allows any.
	CORSOrigins []string
	// Timeout is the deadline of upstream calls that carry none.
	Timeout        time.Duration
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
}

// Gateway is the REST facade.
type Gateway struct {
	handler  http.Handler
	upstream []upstream
}

type upstream struct {
	name string
	conn *grpc.ClientConn
}

// New connects to the services (lazily: the gateway starts even when they
// are not up yet, and /readyz says so) and builds the HTTP handler.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("gateway: a Verifier is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dial := func(target string, services ...protoreflect.ServiceDescriptor) (*grpc.ClientConn, error) {
		return grpcclient.New(target, grpcclient.Options{
			TracerProvider: cfg.TracerProvider,
			MeterProvider:  cfg.MeterProvider,
			Timeout:        cfg.Timeout,
			Services:       services,
		})
	}
	progressConn, err := dial(cfg.ProgressTarget, progressv1.File_kinbridge_progress_v1_progress_proto.Services().Get(0))
	if err != nil {
		return nil, fmt.Errorf("progress client: %w", err)
	}
	g := &Gateway{upstream: []upstream{{"progress", progressConn}}}

	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: false},
			// grpc-gateway drops unknown fields by default; a typo in a
			// field name must be an error, not a silently ignored value.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithStreamErrorHandler(streamErrorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithMiddlewares(routeTelemetry),
	)
	if err := progressv1.RegisterProgressServiceHandler(ctx, mux, progressConn); err != nil {
		return nil, err
	}

	api := requireUserToken(cfg.Verifier, mux)
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.HandleFunc("GET /readyz", g.ready)
	root.HandleFunc("GET /openapi.json", serveSpec)
	root.HandleFunc("GET /docs", serveDocs)
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/docs", http.StatusFound) })
	if cfg.Metrics != nil {
		root.Handle("GET /metrics", cfg.Metrics)
	}
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		routingErrorHandler(r.Context(), nil, jsonMarshaler, w, r, http.StatusNotFound)
	})

	// API paths bypass http.ServeMux: otelhttp would take its coarse "/v1/"
	// pattern as the route, where routeTelemetry sets the real template.
	top := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			api.ServeHTTP(w, r)
			return
		}
		root.ServeHTTP(w, r)
	})
	g.handler = otelhttp.NewHandler(cors(cfg.CORSOrigins, top), "gateway",
		otelhttp.WithTracerProvider(cfg.TracerProvider),
		otelhttp.WithMeterProvider(cfg.MeterProvider),
		// Raw paths carry ids: name spans by method until the route is known.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
	return g, nil
}

// Handler serves the gateway.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close drops the upstream connections.
func (g *Gateway) Close() error {
	var errs []error
	for _, u := range g.upstream {
		errs = append(errs, u.conn.Close())
	}
	return errors.Join(errs...)
}

// routeTelemetry names the server span and labels metrics by the matched
// route template, never the raw path, so ids do not explode cardinality.
func routeTelemetry(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if pattern, ok := runtime.HTTPPattern(r.Context()); ok {
			route := pattern.String()
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
			if labeler, ok := otelhttp.LabelerFromContext(r.Context()); ok {
				labeler.Add(semconv.HTTPRoute(route))
			}
		}
		next(w, r, params)
	}
}
