package telemetry

import (
	"context"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// jaegerBaggage carries baggage in Jaeger's `uberctx-{key}` headers, which
// OpenTelemetry's Jaeger propagator ignores: callers still instrumented with
// jaeger-client-go keep their baggage across the suite.
type jaegerBaggage struct{}

const uberctxPrefix = "uberctx-"

// Inject writes every baggage member as an uberctx header.
func (jaegerBaggage) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	for _, m := range baggage.FromContext(ctx).Members() {
		carrier.Set(uberctxPrefix+m.Key(), url.QueryEscape(m.Value()))
	}
}

// Extract adds the uberctx headers to the context's baggage.
func (jaegerBaggage) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	bag := baggage.FromContext(ctx)
	for _, k := range carrier.Keys() {
		key, ok := strings.CutPrefix(strings.ToLower(k), uberctxPrefix)
		if !ok || key == "" {
			continue
		}
		value, err := url.QueryUnescape(carrier.Get(k))
		if err != nil {
			continue
		}
		m, err := baggage.NewMemberRaw(key, value)
		if err != nil {
			continue
		}
		if b, err := bag.SetMember(m); err == nil {
			bag = b
		}
	}
	return baggage.ContextWithBaggage(ctx, bag)
}

// Fields is empty: the header names depend on the baggage keys.
func (jaegerBaggage) Fields() []string { return nil }

// baggageAttributes copies the baggage a request carries onto each span it
// starts (`baggage.{key}`), so Jaeger shows what the caller attached.
// Keys that look like credentials are never copied.
type baggageAttributes struct{}

func (baggageAttributes) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	for _, m := range baggage.FromContext(ctx).Members() {
		k := strings.ToLower(m.Key())
		if strings.Contains(k, "auth") || strings.Contains(k, "token") || strings.Contains(k, "secret") || strings.Contains(k, "password") {
			continue
		}
		s.SetAttributes(attribute.String("baggage."+m.Key(), m.Value()))
	}
}

func (baggageAttributes) OnEnd(sdktrace.ReadOnlySpan)      {}
func (baggageAttributes) Shutdown(context.Context) error   { return nil }
func (baggageAttributes) ForceFlush(context.Context) error { return nil }
