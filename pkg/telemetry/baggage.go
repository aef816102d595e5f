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

// Extract adds the uberctx headers to the context's baggage. It runs on
// every request and almost none carries such a header: it reads the header
// names without copying them (http.Header, which the gateway's carrier is,
// is ranged over directly) and leaves ctx as it is when none is found.
func (jaegerBaggage) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	var (
		bag   baggage.Baggage
		found bool
	)
	add := func(k string) {
		if len(k) <= len(uberctxPrefix) || !strings.EqualFold(k[:len(uberctxPrefix)], uberctxPrefix) {
			return
		}
		value, err := url.QueryUnescape(carrier.Get(k))
		if err != nil {
			return
		}
		m, err := baggage.NewMemberRaw(strings.ToLower(k[len(uberctxPrefix):]), value)
		if err != nil {
			return
		}
		if !found {
			bag, found = baggage.FromContext(ctx), true
		}
		if b, err := bag.SetMember(m); err == nil {
			bag = b
		}
	}
	if h, ok := carrier.(propagation.HeaderCarrier); ok {
		for k := range h {
			add(k)
		}
	} else {
		for _, k := range carrier.Keys() {
			add(k)
		}
	}
	if !found {
		return ctx
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
