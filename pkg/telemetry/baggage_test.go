package telemetry

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

func TestJaegerBaggageExtract(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		carrier propagation.TextMapCarrier
	}{
		// http.Header names are canonical ("Uberctx-Child"), gRPC
		// metadata's lower case.
		{"http", propagation.HeaderCarrier(http.Header{"Uberctx-Child": {"c%201"}, "Authorization": {"Bearer x"}})},
		{"map", propagation.MapCarrier{"uberctx-child": "c%201", "traceparent": "00-x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := baggage.FromContext(jaegerBaggage{}.Extract(ctx, tc.carrier)).Member("child").Value()
			if got != "c 1" {
				t.Errorf("baggage child = %q, want %q", got, "c 1")
			}
		})
	}

	// The usual request carries no uberctx header: it gets its context
	// back as it was, at no cost.
	hdr := propagation.HeaderCarrier(http.Header{
		"Authorization": {"Bearer x"}, "Traceparent": {"00-x"}, "Content-Type": {"application/json"}, "Uberctx-": {"empty key"},
	})
	if got := (jaegerBaggage{}).Extract(ctx, hdr); got != ctx {
		t.Error("Extract without uberctx headers returned a new context")
	}
	if n := testing.AllocsPerRun(100, func() { _ = jaegerBaggage{}.Extract(ctx, hdr) }); n != 0 {
		t.Errorf("Extract without uberctx headers allocates %v times, want 0", n)
	}
}
