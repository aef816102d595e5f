package telemetrytest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/kinbridge/kinbridge/pkg/telemetry/telemetrytest"
)

// TestMain checks that the collector's server goroutines end with the test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// TestCollectorReceives sends a hand-made OTLP request over gRPC and checks the flattening.
func TestCollectorReceives(t *testing.T) {
	c := telemetrytest.NewCollector(t)
	conn, err := grpc.NewClient(c.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "media")}},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "test"},
			Spans: []*tracepb.Span{{
				TraceId:      []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
				SpanId:       []byte{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
				ParentSpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8},
				Name:         "upload",
				Kind:         tracepb.Span_SPAN_KIND_SERVER,
				Attributes: []*commonpb.KeyValue{
					str("s", "x"),
					{Key: "i", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 42}}},
					{Key: "b", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}},
					{Key: "d", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}},
					{Key: "a", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{
						Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: "p"}}, {Value: &commonpb.AnyValue_IntValue{IntValue: 2}}},
					}}}},
				},
			}},
		}},
	}}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := coltracepb.NewTraceServiceClient(conn).Export(ctx, req); err != nil {
		t.Fatalf("Export: %v", err)
	}

	// Export has returned, so the span is there: the wait only has to succeed at once.
	spans := c.WaitFor(t, 10*time.Second, func(s []telemetrytest.Span) bool { return len(s) == 1 })
	s := spans[0]
	if s.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || s.SpanID != "00f067aa0ba902b7" || s.ParentSpanID != "0102030405060708" {
		t.Errorf("ids %s/%s parent %s", s.TraceID, s.SpanID, s.ParentSpanID)
	}
	if s.Name != "upload" || s.Service != "media" || s.Scope != "test" || s.Kind != 2 {
		t.Errorf("span %+v", s)
	}
	want := map[string]string{"s": "x", "i": "42", "b": "true", "d": "1.5", "a": "[p 2]"}
	for k, v := range want {
		if s.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, s.Attributes[k], v)
		}
	}
	if got := c.Spans(); len(got) != 1 {
		t.Errorf("Spans() = %d spans, want 1", len(got))
	}
}

// TestCollectorEnv checks that Env points the standard variables at the collector.
func TestCollectorEnv(t *testing.T) {
	c := telemetrytest.NewCollector(t)
	c.Env(t)
	for k, want := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://" + c.Endpoint(),
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://" + c.Endpoint(),
		"OTEL_EXPORTER_OTLP_INSECURE":        "true",
	} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
