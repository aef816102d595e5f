package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Propagator returns the propagator Init installs globally: Jaeger's uber-trace-id, W3C
// tracecontext, W3C baggage and Jaeger's uberctx-* baggage. Pass it explicitly where a library
// takes one.
//
// Extraction runs in that order and a later valid context replaces an earlier one, so when a
// request carries both headers the W3C traceparent wins; injection writes both, so callees
// still on jaeger-client-go stay in the trace. The contrib Jaeger propagator ignores uberctx-*
// headers, so jaegerBaggage (baggage.go) carries them.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(
		jaeger.Jaeger{},
		propagation.TraceContext{},
		propagation.Baggage{},
		jaegerBaggage{},
	)
}

// baseResource detects what every provider's resource shares. Detectors are limited to cheap
// local look-ups; process command args and owner are left out because flags may carry secrets.
// The order matters: later detectors win, so OTEL_RESOURCE_ATTRIBUTES may add attributes
// (deployment.environment.name, ...) but not change the namespace or version we set.
func baseResource(ctx context.Context, version string, logger *slog.Logger) (*resource.Resource, error) {
	attrs := []resource.Option{
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithOSType(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithFromEnv(),
		resource.WithAttributes(semconv.ServiceNamespace(Namespace)),
	}
	if version != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(version)))
	}
	res, err := resource.New(ctx, attrs...)
	if errors.Is(err, resource.ErrPartialResource) {
		// A malformed OTEL_RESOURCE_ATTRIBUTES entry: keep what parsed rather than refuse to
		// start over an annotation.
		logger.Warn("telemetry: partial resource", "err", err)
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// withServiceName returns base with service.name set to name, overriding OTEL_SERVICE_NAME: in
// a process running several services one variable cannot name them all.
func withServiceName(base *resource.Resource, name string) *resource.Resource {
	res, err := resource.Merge(base, resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(name)))
	if err != nil {
		// Merge fails only on conflicting schema URLs, and both sides use semconv.SchemaURL.
		panic(fmt.Sprintf("telemetry: merge resource: %v", err))
	}
	return res
}

// otlpExporterFromEnv returns an OTLP/gRPC span exporter when the standard variables configure
// an endpoint, or nil when traces are not to leave the process. Unlike the specification's
// default (localhost:4317) we export nothing without an endpoint: a developer's `make run`
// should not spend a goroutine retrying a collector that is not there.
func otlpExporterFromEnv(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	export, err := otlpWanted(getenv)
	if err != nil || !export {
		return nil, err
	}
	// otlptracegrpc reads the OTEL_EXPORTER_OTLP_* variables itself; the connection is made
	// lazily, so an unreachable collector does not fail startup.
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: otlp trace exporter: %w", err)
	}
	return exp, nil
}

// otlpWanted decides from the environment whether to export traces over OTLP/gRPC.
func otlpWanted(getenv func(string) string) (bool, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }

	// OTEL_TRACES_EXPORTER is a comma-separated list in the specification.
	none := false
	for _, e := range strings.Split(strings.ToLower(env("OTEL_TRACES_EXPORTER")), ",") {
		switch strings.TrimSpace(e) {
		case "", "otlp":
		case "none":
			none = true
		default:
			return false, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", env("OTEL_TRACES_EXPORTER"))
		}
	}
	if none {
		return false, nil
	}
	if env("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return false, nil
	}

	// The gRPC exporter would ignore an HTTP protocol setting and speak gRPC to an OTLP/HTTP
	// port, losing every span quietly; refuse instead.
	proto := env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = env("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "grpc" {
		return false, fmt.Errorf("telemetry: OTLP protocol %q: only grpc is supported", proto)
	}
	return true, nil
}
