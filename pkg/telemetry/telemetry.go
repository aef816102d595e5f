// Package telemetry sets up traces, metrics and logs for a Kinbridge process in one place.
//
// One process may run several services (`kinbridge serve all`), so the pieces are split by
// what they describe:
//
//   - Traces are per service: [Telemetry.TracerProvider] returns one SDK provider per service
//     name, so each service's spans carry its own service.name even when they share a process.
//     Services pass their provider explicitly (otelgrpc/otelhttp options); the otel global
//     TracerProvider is deliberately left alone so that nothing silently falls back to it.
//   - Metrics are per process: one Prometheus registry, fed by one OTel MeterProvider through
//     the OTel Prometheus exporter, served by [Telemetry.MetricsHandler]. The MeterProvider is
//     also the otel global one, because instrumentation libraries default to it.
//   - Logs use log/slog; every record logged with a context carrying a valid span gets trace_id
//     and span_id attributes, so logs and traces can be joined.
//
// Export of traces is configured by the standard OTEL_* variables (see [Init]); with none set the
// providers still create real span ids but nothing leaves the process.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/contrib/zpages"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Namespace is the service.namespace resource attribute of every Kinbridge service.
const Namespace = "kinbridge"

// Config configures [Init]. The zero value is usable: text logs at Info level on stderr, no
// version, trace export only if the OTEL_* variables ask for it.
type Config struct {
	// Version is the build version, set as the service.version resource attribute.
	Version string
	// ServiceName is the service.name of the process-wide meter resource (the target_info
	// metric). Empty means OTEL_SERVICE_NAME if set, else "kinbridge"; `serve all` should leave
	// it empty, `serve progress` may set "progress". Tracer providers never use it: each takes
	// the name it is asked for.
	ServiceName string
	// LogFormat is "text" (the default when empty) or "json".
	LogFormat string
	// LogLevel is the minimum level logged; the zero value is slog.LevelInfo.
	LogLevel slog.Level
	// LogOutput receives the logs; nil means os.Stderr.
	LogOutput io.Writer
	// SpanExporter, when set, replaces the exporter the OTEL_* variables would configure, for
	// every tracer provider. It exists for tests and embedding (an in-memory exporter); Shutdown
	// shuts it down.
	SpanExporter sdktrace.SpanExporter
}

// Telemetry holds the process-wide telemetry state made by [Init]. Its methods are safe for
// concurrent use.
type Telemetry struct {
	cfg Config

	// baseRes is detected once in Init (host, process, env) so that a new service's provider
	// costs a merge, not another round of detection.
	baseRes *resource.Resource
	// exporter is shared by every tracer provider: one OTLP connection per process, not per
	// service. Nil when traces are not exported.
	exporter sdktrace.SpanExporter

	registry       *prometheus.Registry
	meterProvider  *sdkmetric.MeterProvider
	metricsHandler func() http.Handler

	logHandler slog.Handler

	// recent keeps the latest spans of every service in memory for the
	// zpages view: traces are visible in a browser with no Jaeger at all.
	recent *zpages.SpanProcessor

	mu        sync.Mutex
	providers map[string]*sdktrace.TracerProvider
	closed    bool

	shutdownOnce sync.Once
	shutdownErr  error
}

// Init sets up process-wide telemetry and returns it; call it once per process, early in main,
// and defer Shutdown.
//
// It sets these otel and slog globals, because libraries reach for them:
//   - the text map propagator: W3C tracecontext and baggage, plus Jaeger's uber-trace-id so that
//     callers still on jaeger-client-go join the same trace (see [Propagator]);
//   - the MeterProvider, exporting to the Prometheus registry;
//   - the otel error handler, logging through slog;
//   - the default slog logger (see [NewLogHandler]).
//
// Traces are exported over OTLP/gRPC only when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set and OTEL_TRACES_EXPORTER is not "none"; the exporter
// reads the other OTEL_EXPORTER_OTLP_* variables (insecure, headers, timeout, TLS) itself.
// OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* and OTEL_METRICS_EXEMPLAR_FILTER are honoured by the SDK.
// Init fails on settings it cannot honour (an unknown log format, an OTLP protocol other than
// grpc, an OTEL_TRACES_EXPORTER other than otlp or none) rather than silently dropping traces.
func Init(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.LogOutput == nil {
		cfg.LogOutput = os.Stderr
	}
	t := &Telemetry{cfg: cfg, providers: make(map[string]*sdktrace.TracerProvider), recent: zpages.NewSpanProcessor()}

	inner, err := newInnerHandler(cfg)
	if err != nil {
		return nil, err
	}
	t.logHandler = NewLogHandler(inner)
	logger := slog.New(t.logHandler)

	t.baseRes, err = baseResource(ctx, cfg.Version, logger)
	if err != nil {
		return nil, err
	}

	t.exporter = cfg.SpanExporter
	if t.exporter == nil {
		t.exporter, err = otlpExporterFromEnv(ctx, os.Getenv)
		if err != nil {
			return nil, err
		}
	}

	if err := t.initMetrics(); err != nil {
		if t.exporter != nil {
			err = errors.Join(err, t.exporter.Shutdown(ctx))
		}
		return nil, err
	}

	// Globals last: a failed Init leaves the process as it was.
	otel.SetTextMapPropagator(Propagator())
	otel.SetMeterProvider(t.meterProvider)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		// The SDK reports export failures here (collector down, bad endpoint); a warning, since
		// the service itself keeps working.
		logger.Warn("opentelemetry error", "err", err)
	}))
	slog.SetDefault(logger)

	logger.Debug("telemetry initialised", "trace_export", t.exporter != nil)
	return t, nil
}

// initMetrics builds the registry, the OTel Prometheus exporter and the MeterProvider.
func (t *Telemetry) initMetrics() error {
	t.registry = prometheus.NewRegistry()
	if err := t.registry.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("telemetry: register go collector: %w", err)
	}
	if err := t.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("telemetry: register process collector: %w", err)
	}

	exp, err := otelprom.New(
		otelprom.WithRegisterer(t.registry),
		// Without this every series carries otel_scope_name/version/schema_url labels naming
		// the instrumentation library: noise on every query. The cost is that two scopes
		// emitting the same metric name with the same attributes would collide; our metric
		// names are distinct per library (rpc.*, http.*, kinbridge.*), so none do.
		otelprom.WithoutScopeInfo(),
		// Pinned rather than left to the exporter's default, which is documented to change:
		// classic Prometheus names with unit and _total suffixes.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		return fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}

	t.meterProvider = sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(exp),
		sdkmetric.WithResource(t.meterResource()),
	)

	t.metricsHandler = sync.OnceValue(func() http.Handler {
		h := promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{
			// OpenMetrics is the only exposition format that carries exemplars.
			EnableOpenMetrics: true,
			ErrorLog:          promErrorLog{slog.New(t.logHandler)},
			// A broken collector should cost its own series, not the whole scrape.
			ErrorHandling: promhttp.ContinueOnError,
			Registry:      t.registry,
		})
		return promhttp.InstrumentMetricHandler(t.registry, h)
	})
	return nil
}

// meterResource is the base resource named for the whole process.
func (t *Telemetry) meterResource() *resource.Resource {
	name := t.cfg.ServiceName
	if name == "" {
		if v, ok := t.baseRes.Set().Value(semconv.ServiceNameKey); ok && v.AsString() != "" {
			name = v.AsString()
		} else {
			name = Namespace
		}
	}
	return withServiceName(t.baseRes, name)
}

// TracerProvider returns the tracer provider of one service, creating it on first use; later
// calls with the same name return the same provider. Its resource has service.name=service.
// After Shutdown it returns providers that export nothing.
func (t *Telemetry) TracerProvider(service string) trace.TracerProvider {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tp, ok := t.providers[service]; ok {
		return tp
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(withServiceName(t.baseRes, service)), sdktrace.WithSpanProcessor(t.recent), sdktrace.WithSpanProcessor(baggageAttributes{})}
	// No WithSampler: the SDK then reads OTEL_TRACES_SAMPLER(_ARG), defaulting to
	// parentbased_always_on.
	if t.exporter != nil && !t.closed {
		opts = append(opts, sdktrace.WithBatcher(sharedExporter{t.exporter}))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	t.providers[service] = tp
	return tp
}

// TracezHandler serves recent spans and per-span latency buckets of every
// service in this process (OpenTelemetry zpages): the zero-setup view of
// traces. Mount it at /debug/tracez.
func (t *Telemetry) TracezHandler() http.Handler { return zpages.NewTracezHandler(t.recent) }

// MeterProvider returns the process-wide meter provider, whose instruments are served by
// MetricsHandler. It is also the otel global MeterProvider.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.meterProvider }

// Registry returns the process-wide Prometheus registry, for collectors that are not OTel
// instruments. It already holds the Go and process collectors.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// MetricsHandler serves the registry for Prometheus to scrape (mount it at /metrics). It
// negotiates OpenMetrics, which carries exemplars linking histogram buckets and counters to
// the trace that recorded them.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metricsHandler() }

// Logger returns a logger whose records carry service=<service> and, when logged with a context
// holding a valid span, trace_id and span_id. Use the *Context methods (InfoContext, ...) in
// request paths, or the ids are lost.
func (t *Telemetry) Logger(service string) *slog.Logger {
	return slog.New(t.logHandler).With(slog.String("service", service))
}

// ForceFlush exports the spans every tracer provider has buffered, without shutting down.
// Tests use it to see spans without waiting for the batch interval.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	var errs []error
	for _, tp := range t.providerList() {
		errs = append(errs, tp.ForceFlush(ctx))
	}
	errs = append(errs, t.meterProvider.ForceFlush(ctx))
	return errors.Join(errs...)
}

// Shutdown flushes and stops every tracer provider, the span exporter and the meter provider.
// Later calls return the result of the first. The context bounds the flush: give it a deadline.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()

		var errs []error
		for _, tp := range t.providerList() {
			errs = append(errs, tp.Shutdown(ctx))
		}
		// Providers first: their batch processors flush into the exporter, which is shared and
		// so closed only once all of them are done.
		if t.exporter != nil {
			errs = append(errs, t.exporter.Shutdown(ctx))
		}
		errs = append(errs, t.meterProvider.Shutdown(ctx))
		if err := errors.Join(errs...); err != nil {
			t.shutdownErr = fmt.Errorf("telemetry: shutdown: %w", err)
		}
	})
	return t.shutdownErr
}

// providerList returns the providers in name order, so that Shutdown's errors are reproducible.
func (t *Telemetry) providerList() []*sdktrace.TracerProvider {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.providers))
	for n := range t.providers {
		names = append(names, n)
	}
	sort.Strings(names)
	tps := make([]*sdktrace.TracerProvider, len(names))
	for i, n := range names {
		tps[i] = t.providers[n]
	}
	return tps
}

// sharedExporter lets several batch span processors use one exporter: each processor shuts its
// exporter down with itself, which would close the connection under the others.
type sharedExporter struct{ sdktrace.SpanExporter }

// Shutdown does nothing; Telemetry.Shutdown shuts the real exporter down once.
func (sharedExporter) Shutdown(context.Context) error { return nil }

// newInnerHandler makes the text or JSON handler that NewLogHandler wraps.
func newInnerHandler(cfg Config) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	switch strings.ToLower(cfg.LogFormat) {
	case "", "text":
		return slog.NewTextHandler(cfg.LogOutput, opts), nil
	case "json":
		return slog.NewJSONHandler(cfg.LogOutput, opts), nil
	default:
		return nil, fmt.Errorf("telemetry: log format %q: want text or json", cfg.LogFormat)
	}
}

// promErrorLog adapts slog to promhttp's Logger, so scrape errors land in the structured log.
type promErrorLog struct{ l *slog.Logger }

func (p promErrorLog) Println(v ...any) {
	p.l.Error("serving metrics", "err", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
