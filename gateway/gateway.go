// Package gateway is the REST/JSON facade web frontends use: grpc-gateway
// routes over the services' public gRPC APIs, plus health, the OpenAPI spec
// and its docs page. It speaks to the services over gRPC like any other
// client and never routes their service-only APIs.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

// Config is what the gateway needs.
type Config struct {
	// ProgressTarget is the progress service's gRPC address.
	ProgressTarget string
	// MediaTarget is the media service's gRPC address.
	MediaTarget string
	// NotificationTarget is the notification service's gRPC address.
	NotificationTarget string
	// UpstreamTLS, when set, secures the connections to the services
	// (--tls-ca, and the gateway's --tls-cert for those requiring mutual
	// TLS); plaintext when nil.
	UpstreamTLS *tls.Config
	// ServiceIdentity authenticates the gateway itself to the service-only
	// LiveService that carries browsers' live feeds. It is used for nothing
	// else: every other call carries the user's own token.
	ServiceIdentity credentials.PerRPCCredentials
	// Verifier checks bearer tokens before anything is forwarded, so a
	// service identity can never enter from outside.
	Verifier *auth.Verifier
	// CORSOrigins may call from a browser; "*" allows any.
	CORSOrigins []string
	// Timeout is the deadline of upstream calls that carry none.
	Timeout time.Duration
	// RateLimiter limits each client address and each user (see
	// limitRequests); nil limits nothing.
	RateLimiter *ratelimit.Limiter
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address.
	TrustedProxies ratelimit.TrustedProxies

	// Limits bound each request's body and time (see limits.go).
	Limits Limits
	// SpoolDir holds the files multipart uploads are spooled to (default
	// the system's temporary directory). They have no name while in use,
	// and what a crash left of them is removed when the gateway starts.
	SpoolDir       string
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider

	// BreakerFailures is how many calls in a row a service must leave
	// unanswered before the gateway stops calling it for BreakerCoolDown
	// and answers 503 with Retry-After at once (grpcclient.Breaker); 0
	// calls every time.
	BreakerFailures int
	BreakerCoolDown time.Duration

	// App is the family app's built files (index.html at the root), served
	// at / (app.go); nil sends / to the API docs.
	App fs.FS
	// SignIn configures browser sign-in: sessions in a cookie, through an
	// OpenID provider or one-time links (signin.go); the zero value
	// offers none.
	SignIn SignIn
}

// Gateway is the REST facade.
type Gateway struct {
	handler   http.Handler
	upstream  []upstream
	breakers  map[string]*grpcclient.Breaker // by service; empty without breakers
	verifier  *auth.Verifier
	media     mediav1.MediaServiceClient
	live      *liveMux
	liveConn  *grpc.ClientConn
	stopLive  context.CancelFunc
	wsOrigins []string
	limits    Limits
	spoolDir  string
	signIn    *signIn
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
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir()
	}
	if err := sweepSpool(cfg.SpoolDir); err != nil {
		return nil, fmt.Errorf("gateway spool: %w", err)
	}
	// One breaker per service, shared by the connections to it.
	breakers := map[string]*grpcclient.Breaker{}
	if cfg.BreakerFailures > 0 {
		for _, name := range []string{"progress", "media", "notification"} {
			breakers[name] = grpcclient.NewBreaker(grpcclient.BreakerConfig{
				Caller: "gateway", Upstream: name, Failures: cfg.BreakerFailures, CoolDown: cfg.BreakerCoolDown,
				MeterProvider: cfg.MeterProvider, Logger: cfg.Logger,
			})
		}
	}
	// dial connects to the service called name; see upstream.go for what
	// its callers hear when that service does not answer.
	dial := func(name, target string, creds credentials.PerRPCCredentials, services ...protoreflect.ServiceDescriptor) (*grpc.ClientConn, error) {
		return grpcclient.New(target, grpcclient.Options{
			TracerProvider: cfg.TracerProvider,
			MeterProvider:  cfg.MeterProvider,
			Timeout:        cfg.Timeout,
			Credentials:    creds,
			Services:       services,
			Breaker:        breakers[name],
			DialOptions:    upstreamErrors{service: name, logger: cfg.Logger}.dialOptions(),
			TLS:            cfg.UpstreamTLS,
		})
	}
	progressConn, err := dial("progress", cfg.ProgressTarget, nil, progressv1.File_kinbridge_progress_v1_progress_proto.Services().Get(0))
	if err != nil {
		return nil, fmt.Errorf("progress client: %w", err)
	}
	mediaConn, err := dial("media", cfg.MediaTarget, nil, mediav1.File_kinbridge_media_v1_media_proto.Services().Get(0))
	if err != nil {
		return nil, fmt.Errorf("media client: %w", err)
	}
	notificationConn, err := dial("notification", cfg.NotificationTarget, nil, notificationv1.File_kinbridge_notification_v1_notification_proto.Services().Get(0))
	if err != nil {
		return nil, fmt.Errorf("notification client: %w", err)
	}
	liveConn, err := dial("notification", cfg.NotificationTarget, cfg.ServiceIdentity)
	if err != nil {
		return nil, fmt.Errorf("notification live client: %w", err)
	}
	signIn, err := newSignIn(ctx, cfg.SignIn, cfg.Verifier, cfg.Logger)
	if err != nil {
		return nil, err
	}
	// The live feeds end when ctx does (shutdown begins), so the browsers'
	// connections close and the notification service can drain.
	liveCtx, stopLive := context.WithCancel(ctx)
	g := &Gateway{
		upstream:  []upstream{{"progress", progressConn}, {"media", mediaConn}, {"notification", notificationConn}},
		breakers:  breakers,
		liveConn:  liveConn,
		verifier:  cfg.Verifier,
		media:     mediav1.NewMediaServiceClient(mediaConn),
		live:      newLiveMux(liveCtx, notificationpeerv1.NewLiveServiceClient(liveConn), cfg.Logger, liveBuffer),
		stopLive:  stopLive,
		wsOrigins: originPatterns(cfg.CORSOrigins),
		limits:    cfg.Limits,
		spoolDir:  cfg.SpoolDir,
		signIn:    signIn,
	}

	public := []protoreflect.ServiceDescriptor{
		progressv1.File_kinbridge_progress_v1_progress_proto.Services().Get(0),
		mediav1.File_kinbridge_media_v1_media_proto.Services().Get(0),
		notificationv1.File_kinbridge_notification_v1_notification_proto.Services().Get(0),
	}
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: false},
			// grpc-gateway drops unknown fields by default; a typo in a
			// field name must be an error, not a silently ignored value.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		// Only the caller's token goes to the service (grpc-gateway
		// forwards Authorization whatever the matcher says), and the
		// trace context goes as otelgrpc puts it: copying the other
		// headers (Accept, User-Agent, ... as grpcgateway-*) cost every
		// call a metadata key each on both sides of the hop, for
		// nothing any service reads. Likewise no Grpc-Metadata-* header
		// goes back to the browser: X-Trace-Id (traceHeader) is the one
		// it needs.
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithStreamErrorHandler(streamErrorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithMiddlewares(routeTelemetry(streamedRoutes(public...))),
	)
	if err := progressv1.RegisterProgressServiceHandler(ctx, mux, progressConn); err != nil {
		return nil, err
	}
	if err := mediav1.RegisterMediaServiceHandler(ctx, mux, mediaConn); err != nil {
		return nil, err
	}
	if err := notificationv1.RegisterNotificationServiceHandler(ctx, mux, notificationConn); err != nil {
		return nil, err
	}
	for _, route := range []struct {
		method, path string
		handler      runtime.HandlerFunc
	}{
		{http.MethodGet, "/v1/notifications/events", g.serveSSE},
		{http.MethodGet, "/v1/notifications/ws", g.serveWebSocket},
		{http.MethodGet, "/v1/{name=children/*/media/*}:content", g.serveContent},
		{http.MethodHead, "/v1/{name=children/*/media/*}:content", g.serveContent},
		{http.MethodPost, "/v1/{parent=children/*}/media:upload", g.serveUpload},
	} {
		if err := mux.HandlePath(route.method, route.path, route.handler); err != nil {
			return nil, fmt.Errorf("route %s %s: %w", route.method, route.path, err)
		}
	}

	api := requireUserToken(cfg.Verifier, signIn, mux)
	tus, err := newTusHandler(g.media, cfg.Limits)
	if err != nil {
		return nil, err
	}
	uploads := requireUserToken(cfg.Verifier, signIn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// tusd moves the read and write deadlines on itself while a body
		// comes in (its NetworkTimeout, the read timeout here).
		takeUpload(w, r, cfg.Limits.largestUpload())
		forwardToken(tus).ServeHTTP(w, r)
	}))
	// Nothing here tells about the suite's insides: metrics and recent
	// traces name children, media and users, so they are served only on the
	// metrics listener (loopback by default), never on this public port.
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	root.HandleFunc("GET /readyz", g.ready)
	root.HandleFunc("GET /openapi.json", serveSpec)
	root.HandleFunc("GET /docs", serveDocs)
	root.HandleFunc("GET /docs/{file...}", serveDocs)
	signIn.routes(root)
	if err := mountApp(root, cfg.App); err != nil { // "/" and the app's routes (app.go)
		return nil, err
	}

	// API paths bypass http.ServeMux: otelhttp would take its coarse "/v1/"
	// pattern as the route, where routeTelemetry sets the real template.
	// Every request starts with the small limits of a JSON call; the
	// routes that take or give more opt in (limits.go).
	top := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w, r = withLimits(w, r, cfg.Limits)
		switch {
		case r.URL.Path+"/" == tusBasePath || strings.HasPrefix(r.URL.Path, tusBasePath):
			route := tusBasePath + "{upload}"
			if strings.TrimSuffix(r.URL.Path, "/")+"/" == tusBasePath {
				route = tusBasePath // creation
			}
			setRoute(r, route)
			uploads.ServeHTTP(w, r)
			return
		case isPublic(r): // public.go
			servePublic(mux, w, r)
			return
		case strings.HasPrefix(r.URL.Path, "/v1/"):
			api.ServeHTTP(w, r)
			return
		}
		root.ServeHTTP(w, r)
	})
	g.handler = otelhttp.NewHandler(traceHeader(cors(cfg.CORSOrigins, limitRequests(cfg.RateLimiter, cfg.TrustedProxies, top))), "gateway",
		otelhttp.WithTracerProvider(cfg.TracerProvider),
		otelhttp.WithMeterProvider(cfg.MeterProvider),
		// Raw paths carry ids: name spans by method until the route is known.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
	return g, nil
}

// Handler serves the gateway.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close ends the live feeds and drops the upstream connections.
func (g *Gateway) Close() error {
	g.stopLive()
	errs := []error{g.liveConn.Close()}
	for _, u := range g.upstream {
		errs = append(errs, u.conn.Close())
	}
	return errors.Join(errs...)
}

// liveBuffer is how many notifications a browser may lag by before it is
// told to resume.
const liveBuffer = 64

// originPatterns turns the CORS allow-list into WebSocket origin patterns
// (host names, as the websocket package matches them).
func originPatterns(origins []string) []string {
	var out []string
	for _, o := range origins {
		if o == "*" {
			return []string{"*"}
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

// traceHeader tells every caller the trace id of their request, so a user
// can report exactly which request went wrong.
func traceHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc := trace.SpanContextFromContext(r.Context()); sc.HasTraceID() {
			w.Header().Set("X-Trace-Id", sc.TraceID().String())
		}
		next.ServeHTTP(w, r)
	})
}

// routeTelemetry names the server span and labels metrics by the matched
// route template, never the raw path, so ids do not explode cardinality.
// The routes in streamed (see streamedRoutes) get the timeouts of a long
// answer (streamAnswer) and their writer kept for streamErrorHandler
// (exposeWriter). It is the one place that reads the template:
// grpc-gateway rebuilds it from the pattern, some ten allocations, on
// every call.
func routeTelemetry(streamed map[string]bool) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
			if pattern, ok := runtime.HTTPPattern(r.Context()); ok {
				route := pattern.String()
				setRoute(r, route)
				if streamed[route] {
					w = streamAnswer(w, r)
					r = exposeWriter(w, r)
				}
			}
			next(w, r, params)
		}
	}
}

// setRoute names the request's server span by its route template and adds
// the template to its metrics' labels.
func setRoute(r *http.Request, route string) {
	span := trace.SpanFromContext(r.Context())
	span.SetName(r.Method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
	if labeler, ok := otelhttp.LabelerFromContext(r.Context()); ok {
		labeler.Add(semconv.HTTPRoute(route))
	}
}
