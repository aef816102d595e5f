package telemetry_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/telemetry"
	"github.com/kinbridge/kinbridge/pkg/telemetry/telemetrytest"
)

// waitTimeout bounds waits for an asynchronous export; generous because CI machines are slow.
const waitTimeout = 20 * time.Second

// TestTracesReachCollectorPerService sends one trace across two services of one process, over
// a real propagation hop, and checks what arrives at an OTLP receiver.
func TestTracesReachCollectorPerService(t *testing.T) {
	clearEnv(t)
	col := telemetrytest.NewCollector(t)
	col.Env(t)
	tel, _ := initTelemetry(t, telemetry.Config{Version: "v1.2.3"})
	if !telemetry.ExportsTraces(tel) {
		t.Fatal("no span exporter although the collector's endpoint is set")
	}

	progress := tel.TracerProvider("progress")
	media := tel.TracerProvider("media")
	if progress != tel.TracerProvider("progress") {
		t.Error("TracerProvider is not memoized per service")
	}
	if progress == media {
		t.Error("two services share one TracerProvider")
	}

	// The gateway-facing side in progress calls media; the header map stands in for gRPC metadata.
	ctx, parent := progress.Tracer("test").Start(t.Context(), "progress.GetChild", trace.WithSpanKind(trace.SpanKindServer))
	hdr := http.Header{}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(hdr))
	_, child := media.Tracer("test").Start(
		otel.GetTextMapPropagator().Extract(context.Background(), propagation.HeaderCarrier(hdr)),
		"media.CheckAccess", trace.WithSpanKind(trace.SpanKindServer))
	child.End()
	parent.End()

	spans := col.WaitFor(t, waitTimeout, func(s []telemetrytest.Span) bool { return len(s) >= 2 })
	byName := map[string]telemetrytest.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	p, c := byName["progress.GetChild"], byName["media.CheckAccess"]
	if p.Service != "progress" || c.Service != "media" {
		t.Errorf("service.name: got %q and %q, want progress and media", p.Service, c.Service)
	}
	for _, s := range []telemetrytest.Span{p, c} {
		if s.Resource["service.namespace"] != "kinbridge" || s.Resource["service.version"] != "v1.2.3" {
			t.Errorf("%s resource = %v, want service.namespace=kinbridge service.version=v1.2.3", s.Name, s.Resource)
		}
		if s.Kind != int32(trace.SpanKindServer) {
			t.Errorf("%s kind = %d, want server", s.Name, s.Kind)
		}
	}
	if c.TraceID != p.TraceID || c.ParentSpanID != p.SpanID {
		t.Errorf("child %s/%s parent %s, want trace %s parent %s", c.TraceID, c.SpanID, c.ParentSpanID, p.TraceID, p.SpanID)
	}
	if p.TraceID != parent.SpanContext().TraceID().String() {
		t.Errorf("exported trace id %s, span had %s", p.TraceID, parent.SpanContext().TraceID())
	}
}

// TestShutdownFlushes checks that spans still buffered in a batch processor are exported by
// Shutdown itself: the batch delay is set far beyond the test, so nothing else would send them.
func TestShutdownFlushes(t *testing.T) {
	clearEnv(t)
	col := telemetrytest.NewCollector(t)
	col.Env(t)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "3600000") // an hour
	tel, err := telemetry.Init(t.Context(), telemetry.Config{LogOutput: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"progress", "media", "notification"} {
		_, s := tel.TracerProvider(svc).Tracer("test").Start(t.Context(), svc+".op")
		s.End()
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown returns after the export call has been answered: no waiting here.
	var got []string
	for _, s := range col.Spans() {
		got = append(got, s.Service)
	}
	slices.Sort(got)
	if want := []string{"media", "notification", "progress"}; !slices.Equal(got, want) {
		t.Errorf("after Shutdown the collector has spans of %v, want %v", got, want)
	}

	if err := tel.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	// A provider asked for after Shutdown still works, exporting nothing.
	_, s := tel.TracerProvider("late").Tracer("test").Start(t.Context(), "late.op")
	s.End()
	if !s.SpanContext().IsValid() {
		t.Error("span after Shutdown has no ids")
	}
}

// TestNoExporterWithoutEnv checks the `make run` default: nothing exported, but spans still get
// real ids so that logs and response headers can carry them.
func TestNoExporterWithoutEnv(t *testing.T) {
	clearEnv(t)
	tel, _ := initTelemetry(t, telemetry.Config{})
	if telemetry.ExportsTraces(tel) {
		t.Fatal("span exporter configured with no OTLP endpoint set")
	}
	_, s := tel.TracerProvider("progress").Tracer("test").Start(t.Context(), "op")
	defer s.End()
	if sc := s.SpanContext(); !sc.IsValid() || !sc.IsSampled() {
		t.Errorf("span context %+v: want valid and sampled", sc)
	}
}

// TestTracesExporterNone checks that OTEL_TRACES_EXPORTER=none wins over a set endpoint.
func TestTracesExporterNone(t *testing.T) {
	clearEnv(t)
	col := telemetrytest.NewCollector(t)
	col.Env(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	tel, _ := initTelemetry(t, telemetry.Config{})
	if telemetry.ExportsTraces(tel) {
		t.Fatal("span exporter configured although OTEL_TRACES_EXPORTER=none")
	}
}

// TestSamplerFromEnv checks that the providers leave sampling to OTEL_TRACES_SAMPLER, which the
// SDK reads only when no sampler is passed in code.
func TestSamplerFromEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	tel, _ := initTelemetry(t, telemetry.Config{})
	_, s := tel.TracerProvider("progress").Tracer("test").Start(t.Context(), "op")
	defer s.End()
	sc := s.SpanContext()
	if sc.IsSampled() || s.IsRecording() {
		t.Error("span sampled although OTEL_TRACES_SAMPLER=always_off")
	}
	if !sc.IsValid() {
		t.Error("unsampled span has no ids; the SDK should still generate them")
	}
}

func TestOTLPWanted(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    bool
		wantErr bool
	}{
		{name: "nothing set", env: nil, want: false},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}, want: true},
		{name: "traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4317"}, want: true},
		{name: "otlp but no endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, want: false},
		{name: "none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}, want: false},
		{name: "none upper case", env: map[string]string{"OTEL_TRACES_EXPORTER": " NONE ", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}, want: false},
		{name: "zipkin", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}, wantErr: true},
		{name: "grpc protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317"}, want: true},
		{name: "http protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}, wantErr: true},
		{name: "traces protocol overrides", env: map[string]string{
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4317",
		}, want: true},
		{name: "protocol ignored when not exporting", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.OTLPWanted(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestInitRejectsWhatItCannotHonour(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		cfg  telemetry.Config
	}{
		{name: "log format", cfg: telemetry.Config{LogFormat: "xml"}},
		{name: "traces exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}},
		{name: "otlp protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			tt.cfg.LogOutput = &syncBuffer{}
			if tel, err := telemetry.Init(t.Context(), tt.cfg); err == nil {
				_ = tel.Shutdown(context.Background())
				t.Fatal("Init succeeded")
			}
		})
	}
}

// TestPropagation checks extraction of both wire formats through the global propagator Init
// installs, and that a span started from the extracted context joins the caller's trace.
func TestPropagation(t *testing.T) {
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	tests := []struct {
		name        string
		header      map[string]string
		wantTraceID string
		wantSpanID  string
		wantSampled bool
	}{
		{
			name:        "jaeger uber-trace-id",
			header:      map[string]string{"uber-trace-id": traceID + ":" + spanID + ":0:1"},
			wantTraceID: traceID, wantSpanID: spanID, wantSampled: true,
		},
		{
			name:        "jaeger not sampled",
			header:      map[string]string{"uber-trace-id": traceID + ":" + spanID + ":0:0"},
			wantTraceID: traceID, wantSpanID: spanID, wantSampled: false,
		},
		{
			name: "jaeger 64-bit trace id is left-padded",
			// jaeger-client-go sends 16 hex digits unless configured for 128-bit ids.
			header:      map[string]string{"uber-trace-id": "a3ce929d0e0e4736:" + spanID + ":0:1"},
			wantTraceID: "0000000000000000a3ce929d0e0e4736", wantSpanID: spanID, wantSampled: true,
		},
		{
			name:        "w3c traceparent",
			header:      map[string]string{"traceparent": "00-" + traceID + "-" + spanID + "-01"},
			wantTraceID: traceID, wantSpanID: spanID, wantSampled: true,
		},
		{
			name: "w3c wins over jaeger",
			header: map[string]string{
				"traceparent":   "00-" + traceID + "-" + spanID + "-01",
				"uber-trace-id": "11111111111111111111111111111111:2222222222222222:0:1",
			},
			wantTraceID: traceID, wantSpanID: spanID, wantSampled: true,
		},
	}

	clearEnv(t)
	exp := tracetest.NewInMemoryExporter()
	tel, _ := initTelemetry(t, telemetry.Config{SpanExporter: exp})
	tracer := tel.TracerProvider("progress").Tracer("test")

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			for k, v := range tt.header {
				hdr.Set(k, v)
			}
			ctx := otel.GetTextMapPropagator().Extract(t.Context(), propagation.HeaderCarrier(hdr))
			sc := trace.SpanContextFromContext(ctx)
			if !sc.IsRemote() || sc.TraceID().String() != tt.wantTraceID || sc.SpanID().String() != tt.wantSpanID || sc.IsSampled() != tt.wantSampled {
				t.Fatalf("extracted %s/%s sampled=%v remote=%v, want %s/%s sampled=%v",
					sc.TraceID(), sc.SpanID(), sc.IsSampled(), sc.IsRemote(), tt.wantTraceID, tt.wantSpanID, tt.wantSampled)
			}

			exp.Reset()
			_, s := tracer.Start(ctx, "child")
			s.End()
			if err := tel.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := exp.GetSpans()
			if !tt.wantSampled {
				// parentbased_always_on follows the caller's decision.
				if len(got) != 0 {
					t.Errorf("exported %d spans of an unsampled trace", len(got))
				}
				return
			}
			if len(got) != 1 || got[0].Parent.SpanID().String() != tt.wantSpanID || got[0].SpanContext.TraceID().String() != tt.wantTraceID {
				t.Fatalf("exported %+v, want one child of %s in trace %s", got, tt.wantSpanID, tt.wantTraceID)
			}
		})
	}

	t.Run("inject writes both formats and baggage", func(t *testing.T) {
		ctx, s := tracer.Start(t.Context(), "caller")
		defer s.End()
		m, err := baggage.NewMember("child", "c1")
		if err != nil {
			t.Fatal(err)
		}
		b, err := baggage.New(m)
		if err != nil {
			t.Fatal(err)
		}
		hdr := http.Header{}
		otel.GetTextMapPropagator().Inject(baggage.ContextWithBaggage(ctx, b), propagation.HeaderCarrier(hdr))
		sc := s.SpanContext()
		if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; hdr.Get("traceparent") != want {
			t.Errorf("traceparent = %q, want %q", hdr.Get("traceparent"), want)
		}
		if want := sc.TraceID().String() + ":" + sc.SpanID().String() + ":0:1"; hdr.Get("uber-trace-id") != want {
			t.Errorf("uber-trace-id = %q, want %q", hdr.Get("uber-trace-id"), want)
		}
		if hdr.Get("baggage") != "child=c1" {
			t.Errorf("baggage = %q, want child=c1", hdr.Get("baggage"))
		}
	})
}

// TestResource checks what the environment may and may not change in the resources: it adds
// attributes, but in a process running several services it cannot rename them.
func TestResource(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,service.namespace=other")

	attrs := func(res interface{ Set() *attribute.Set }) map[string]string {
		m := map[string]string{}
		for _, kv := range res.Set().ToSlice() {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}

	exp := tracetest.NewInMemoryExporter()
	tel, _ := initTelemetry(t, telemetry.Config{SpanExporter: exp, Version: "v9"})
	_, s := tel.TracerProvider("progress").Tracer("test").Start(t.Context(), "op")
	s.End()
	if err := tel.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	got := attrs(spans[0].Resource)
	for k, want := range map[string]string{
		"service.name":                "progress",
		"service.namespace":           "kinbridge",
		"service.version":             "v9",
		"deployment.environment.name": "staging",
		"telemetry.sdk.language":      "go",
	} {
		if got[k] != want {
			t.Errorf("resource %s = %q, want %q", k, got[k], want)
		}
	}
	if _, ok := got["process.command_args"]; ok {
		t.Error("resource carries the command line, which may hold secrets")
	}

	// The process-wide meter resource takes OTEL_SERVICE_NAME when Config.ServiceName is empty,
	// and Config.ServiceName when set.
	_, body := scrape(t, tel.MetricsHandler(), "")
	if !strings.Contains(body, `service_name="from-env"`) {
		t.Error(`target_info lacks service_name="from-env"`)
	}
	tel2, _ := initTelemetry(t, telemetry.Config{ServiceName: "media"})
	_, body = scrape(t, tel2.MetricsHandler(), "")
	if !strings.Contains(body, `service_name="media"`) {
		t.Error(`target_info lacks service_name="media"`)
	}
}
