package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opentracing/opentracing-go"
	jaeger "github.com/uber/jaeger-client-go"

	"github.com/kinbridge/kinbridge/pkg/telemetry/telemetrytest"
)

// TestJaegerClientGoCallerJoinsTheTrace: a caller still instrumented with
// the retired jaeger-client-go sends uber-trace-id and uberctx-* baggage;
// the suite's spans land in its trace and the baggage reaches the services.
func TestJaegerClientGoCallerJoinsTheTrace(t *testing.T) {
	collector := telemetrytest.NewCollector(t)
	collector.Env(t)
	s := startSuite(t)
	child := s.family(t)

	tracer, closer := jaeger.NewTracer("legacy-caller", jaeger.NewConstSampler(true), jaeger.NewNullReporter())
	defer closer.Close()
	span := tracer.StartSpan("fetch child")
	span.SetBaggageItem("family", "silva household")
	req, _ := http.NewRequest("GET", s.gateway+"/v1/"+child, nil)
	req.Header.Set("Authorization", "Bearer "+s.userToken(t, "maria", false))
	if err := tracer.Inject(span.Context(), opentracing.HTTPHeaders, opentracing.HTTPHeadersCarrier(req.Header)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v %v", resp, err)
	}
	resp.Body.Close()
	span.Finish()

	jctx := span.Context().(jaeger.SpanContext)
	traceID := fmt.Sprintf("%016x%016x", jctx.TraceID().High, jctx.TraceID().Low)
	spanID := fmt.Sprintf("%016x", uint64(jctx.SpanID()))
	spans := collector.WaitFor(t, 10*time.Second, func(all []telemetrytest.Span) bool {
		for _, sp := range all {
			if sp.TraceID == traceID && sp.Service == "progress" && sp.Kind == kindServer && strings.Contains(sp.Name, "GetChild") {
				return true
			}
		}
		return false
	})
	for _, sp := range spans {
		if sp.TraceID != traceID {
			continue
		}
		if sp.Service == "gateway" && sp.Kind == kindServer && sp.ParentSpanID != spanID {
			t.Errorf("the gateway span's parent is %s, want the caller's span %s", sp.ParentSpanID, spanID)
		}
		if sp.Service == "progress" && sp.Kind == kindServer && sp.Attributes["baggage.family"] != "silva household" {
			t.Errorf("the caller's baggage did not reach progress: %v", sp.Attributes)
		}
	}
}
