package telemetry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// scrape fetches the metrics page with the given Accept header and returns its content type and
// body.
func scrape(t *testing.T, h http.Handler, accept string) (string, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	return resp.Header.Get("Content-Type"), string(body)
}

func TestMetricsHandler(t *testing.T) {
	clearEnv(t)
	tel, _ := initTelemetry(t, telemetry.Config{Version: "v1.2.3"})

	requests, err := tel.MeterProvider().Meter("kinbridge/test").Int64Counter("kinbridge.test.requests",
		metric.WithUnit("{request}"), metric.WithDescription("Requests handled."))
	if err != nil {
		t.Fatal(err)
	}
	requests.Add(t.Context(), 3, metric.WithAttributes(attribute.String("outcome", "ok")))
	// Instrumentation libraries use the global provider, so it must feed the same registry.
	global, err := otel.Meter("kinbridge/global").Int64UpDownCounter("kinbridge.test.live_subscribers")
	if err != nil {
		t.Fatal(err)
	}
	global.Add(t.Context(), 2)

	ctype, body := scrape(t, tel.MetricsHandler(), "")
	if !strings.HasPrefix(ctype, "text/plain") {
		t.Errorf("content type %q for a plain scrape, want the classic text format", ctype)
	}
	for _, want := range []string{
		`kinbridge_test_requests_total{outcome="ok"} 3`,
		`kinbridge_test_live_subscribers 2`,
		`# HELP kinbridge_test_requests_total Requests handled.`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics page lacks %q", want)
		}
	}
	if strings.Contains(body, "otel_scope_") {
		t.Error("metrics carry otel_scope_* labels; WithoutScopeInfo should drop them")
	}
	targetInfo := regexp.MustCompile(`(?m)^target_info\{.*\} 1$`).FindString(body)
	for _, want := range []string{`service_name="kinbridge"`, `service_namespace="kinbridge"`, `service_version="v1.2.3"`} {
		if !strings.Contains(targetInfo, want) {
			t.Errorf("target_info %q lacks %s", targetInfo, want)
		}
	}

	// The handler's own promhttp_* metrics are registered once, however often it is fetched,
	// and count the scrapes (the first one, as the count is taken before this scrape ends).
	_, body = scrape(t, tel.MetricsHandler(), "")
	if !strings.Contains(body, `promhttp_metric_handler_requests_total{code="200"} 1`) {
		t.Error("promhttp handler metrics missing or not counting scrapes")
	}
}

// TestMetricsExemplars checks that a measurement taken inside a sampled span is served, in
// OpenMetrics, with an exemplar naming that span: the link from a latency bucket to a trace.
func TestMetricsExemplars(t *testing.T) {
	clearEnv(t)
	tel, _ := initTelemetry(t, telemetry.Config{})
	meter := tel.MeterProvider().Meter("kinbridge/test")
	hist, err := meter.Float64Histogram("kinbridge.test.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 1))
	if err != nil {
		t.Fatal(err)
	}
	counter, err := meter.Int64Counter("kinbridge.test.events")
	if err != nil {
		t.Fatal(err)
	}

	ctx, span := tel.TracerProvider("progress").Tracer("test").Start(t.Context(), "op")
	hist.Record(ctx, 0.5)
	counter.Add(ctx, 1)
	span.End()
	sc := span.SpanContext()

	ctype, body := scrape(t, tel.MetricsHandler(), "application/openmetrics-text; version=1.0.0")
	if !strings.HasPrefix(ctype, "application/openmetrics-text") {
		t.Fatalf("content type %q, want OpenMetrics", ctype)
	}
	exemplar := func(metricLine string) string {
		for l := range strings.Lines(body) {
			if strings.HasPrefix(l, metricLine) {
				_, ex, _ := strings.Cut(l, " # ")
				return ex
			}
		}
		return ""
	}
	for _, line := range []string{`kinbridge_test_duration_seconds_bucket{le="1.0"}`, `kinbridge_test_events_total `} {
		ex := exemplar(line)
		if !strings.Contains(ex, `trace_id="`+sc.TraceID().String()+`"`) || !strings.Contains(ex, `span_id="`+sc.SpanID().String()+`"`) {
			t.Errorf("%s: exemplar %q does not name span %s/%s", line, ex, sc.TraceID(), sc.SpanID())
		}
	}

	// The classic text format cannot carry exemplars; a plain scrape must still parse.
	_, plain := scrape(t, tel.MetricsHandler(), "")
	if strings.Contains(plain, "trace_id") {
		t.Error("exemplars in the classic text format")
	}
}
