// Package telemetrytest provides an in-process OTLP trace receiver for tests, so that a test can
// check what a service really exports over the wire (service.name, parent links, attributes)
// without a Jaeger.
package telemetrytest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// Span is one received span, flattened for assertions. Ids are lowercase hex as in logs and
// traceparent headers; ParentSpanID is empty for a root span.
type Span struct {
	TraceID      string
	SpanID       string
	ParentSpanID string
	Name         string
	// Service is the service.name of the span's resource.
	Service string
	// Scope is the instrumentation scope (tracer) name.
	Scope string
	// Kind is the OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer (the
	// same numbers as go.opentelemetry.io/otel/trace.SpanKind).
	Kind int32
	// Attributes are the span's attributes, values formatted as strings.
	Attributes map[string]string
	// Resource holds the resource attributes (service.namespace, service.version, ...).
	Resource map[string]string
	// Links are the span's links to other spans, in the order the span has them.
	Links []Link
}

// Link is one span link, ids in lowercase hex like Span's.
type Link struct {
	TraceID string
	SpanID  string
}

// Collector is a real OTLP/gRPC TraceService listening on loopback that keeps every span it
// receives. It is safe for concurrent use.
type Collector struct {
	addr string

	mu      sync.Mutex
	spans   []Span
	changed chan struct{} // closed and replaced on every export, to wake WaitFor
}

// NewCollector starts a collector on 127.0.0.1 and a free port; it stops when the test ends.
func NewCollector(t testing.TB) *Collector {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("telemetrytest: listen: %v", err)
	}
	c := &Collector{addr: lis.Addr().String(), changed: make(chan struct{})}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, traceService{c: c})
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Serve returns nil after Stop, or ErrServerStopped when Stop came first (a test that
		// ends at once); anything else means the listener broke under us.
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("telemetrytest: serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		// Stop, not GracefulStop: an exporter the test forgot to shut down would otherwise
		// hold its connection open and hang the cleanup.
		srv.Stop()
		<-done
	})
	return c
}

// Endpoint returns the collector's host:port.
func (c *Collector) Endpoint() string { return c.addr }

// Env points the standard OTEL_* variables at the collector for the rest of the test (so it
// cannot be used in parallel tests). Besides the endpoint it pins the settings that ambient
// variables could otherwise change: plaintext gRPC, the default sampler, and a short batch delay
// so that spans arrive within milliseconds rather than the default five seconds.
func (c *Collector) Env(t testing.TB) {
	t.Helper()
	url := "http://" + c.addr
	for k, v := range map[string]string{
		"OTEL_TRACES_EXPORTER":                  "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT":           url,
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":    url,
		"OTEL_EXPORTER_OTLP_INSECURE":           "true",
		"OTEL_EXPORTER_OTLP_TRACES_INSECURE":    "true",
		"OTEL_EXPORTER_OTLP_PROTOCOL":           "grpc",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL":    "grpc",
		"OTEL_EXPORTER_OTLP_HEADERS":            "",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS":     "",
		"OTEL_TRACES_SAMPLER":                   "parentbased_always_on",
		"OTEL_BSP_SCHEDULE_DELAY":               "50",
		"OTEL_EXPORTER_OTLP_TIMEOUT":            "5000",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":     "5000",
		"OTEL_EXPORTER_OTLP_COMPRESSION":        "",
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "",
	} {
		t.Setenv(k, v)
	}
}

// traceService is the gRPC face of a Collector, kept apart so that Collector's own API is only
// what tests call.
type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	c *Collector
}

// Export implements the OTLP TraceService: it flattens and stores every span of the request.
func (ts traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c := ts.c
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				got = append(got, Span{
					TraceID:      hex.EncodeToString(s.GetTraceId()),
					SpanID:       hex.EncodeToString(s.GetSpanId()),
					ParentSpanID: hex.EncodeToString(s.GetParentSpanId()),
					Name:         s.GetName(),
					Service:      res["service.name"],
					Scope:        ss.GetScope().GetName(),
					Kind:         int32(s.GetKind()),
					Attributes:   attrMap(s.GetAttributes()),
					Resource:     res,
					Links:        links(s.GetLinks()),
				})
			}
		}
	}
	c.mu.Lock()
	c.spans = append(c.spans, got...)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// Spans returns a copy of the spans received so far, in arrival order.
func (c *Collector) Spans() []Span {
	s, _ := c.snapshot()
	return s
}

func (c *Collector) snapshot() ([]Span, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...), c.changed
}

// WaitFor waits until cond holds for the spans received so far and returns them. It fails the
// test if timeout passes first: the timeout bounds the wait for an asynchronous export, it is
// not a performance assertion, so be generous.
func (c *Collector) WaitFor(t testing.TB, timeout time.Duration, cond func([]Span) bool) []Span {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		spans, changed := c.snapshot()
		if cond(spans) {
			return spans
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("telemetrytest: condition not met after %v; received %d spans:\n%s", timeout, len(spans), describe(spans))
			return nil
		}
	}
}

// describe lists spans one a line, for failure messages.
func describe(spans []Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %s/%s trace=%s span=%s parent=%s kind=%d\n", s.Service, s.Name, s.TraceID, s.SpanID, s.ParentSpanID, s.Kind)
	}
	return b.String()
}

// links flattens OTLP span links; nil when there are none.
func links(ls []*tracepb.Span_Link) []Link {
	var out []Link
	for _, l := range ls {
		out = append(out, Link{TraceID: hex.EncodeToString(l.GetTraceId()), SpanID: hex.EncodeToString(l.GetSpanId())})
	}
	return out
}

// attrMap flattens OTLP attributes to strings.
func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyString(kv.GetValue())
	}
	return m
}

// anyString formats an OTLP value the way a test would write it: scalars plainly, arrays as
// [a b], maps as {k=v ...} with sorted keys.
func anyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return hex.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, anyString(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *commonpb.AnyValue_KvlistValue:
		m := attrMap(x.KvlistValue.GetValues())
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + m[k]
		}
		return "{" + strings.Join(parts, " ") + "}"
	default:
		return ""
	}
}
