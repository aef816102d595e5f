package telemetry

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Work that a request causes but that runs later (an outbox delivery, a
// media job) stores the request's trace as propagation headers with the
// work, and continues that trace when it runs: Carrier and Continue.

// Carrier returns the propagation headers of ctx's trace, in the global
// propagator's formats (W3C trace context and baggage, Jaeger's), or nil
// when ctx carries none.
func Carrier(ctx context.Context) map[string]string {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if len(carrier) == 0 {
		return nil
	}
	return carrier
}

// Continue returns ctx carrying the trace stored in carrier in place of
// whatever span ctx holds (a poller's, say): a span started from it is a
// child of the request that stored carrier. An empty carrier gives a
// context with no span, so the next span starts a trace of its own.
func Continue(ctx context.Context, carrier map[string]string) context.Context {
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	if len(carrier) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(carrier))
}
