package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/telemetry/telemetrytest"
)

const (
	kindServer = 2
	kindClient = 3
)

// TestOneRESTCallIsOneTrace checks the span tree of a REST call as an OTLP
// receiver sees it: the gateway's HTTP server span, its gRPC client span,
// the progress server span and the SQL spans beneath it, and that a caller
// speaking Jaeger's uber-trace-id continues its own trace.
func TestOneRESTCallIsOneTrace(t *testing.T) {
	collector := telemetrytest.NewCollector(t)
	collector.Env(t)
	s := startSuite(t)
	child := s.family(t)

	// A Jaeger-instrumented caller: trace id, span id, parent (0), flags (sampled).
	const traceID, callerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	r := s.call(t, "GET", "/v1/"+child, s.adminToken, "", "uber-trace-id", fmt.Sprintf("%s:%s:0:1", traceID, callerSpan))
	if r.status != 200 {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	if got := r.header.Get("X-Trace-Id"); got != traceID {
		t.Errorf("X-Trace-Id = %q, want the caller's trace %s", got, traceID)
	}
	miss := s.call(t, "GET", "/v1/children/nobody", s.adminToken, "")
	if id := miss.header.Get("X-Trace-Id"); id == "" || !strings.Contains(string(miss.body), `"requestId":"`+id+`"`) {
		t.Errorf("an error body should name its trace %q: %s", id, miss.body)
	}

	var httpSpan, clientSpan, serverSpan *telemetrytest.Span
	var sqlSpans []telemetrytest.Span
	collector.WaitFor(t, 10*time.Second, func(spans []telemetrytest.Span) bool {
		httpSpan, clientSpan, serverSpan, sqlSpans = nil, nil, nil, nil
		for i := range spans {
			sp := &spans[i]
			if sp.TraceID != traceID {
				continue
			}
			switch {
			case sp.Service == "gateway" && sp.Kind == kindServer:
				httpSpan = sp
			case sp.Service == "gateway" && sp.Kind == kindClient && strings.Contains(sp.Name, "GetChild"):
				clientSpan = sp
			case sp.Service == "progress" && sp.Kind == kindServer && strings.Contains(sp.Name, "GetChild"):
				serverSpan = sp
			case sp.Service == "progress" && sp.Kind == kindClient && sp.Attributes["db.system.name"] != "":
				sqlSpans = append(sqlSpans, *sp)
			}
		}
		return httpSpan != nil && clientSpan != nil && serverSpan != nil && len(sqlSpans) >= 2
	})

	if httpSpan.ParentSpanID != callerSpan {
		t.Errorf("the gateway span's parent is %s, want the caller's %s", httpSpan.ParentSpanID, callerSpan)
	}
	if httpSpan.Name != "GET /v1/{name=children/*}" || httpSpan.Attributes["http.route"] != "/v1/{name=children/*}" {
		t.Errorf("gateway span is named %q with route %q; want the route template", httpSpan.Name, httpSpan.Attributes["http.route"])
	}
	if clientSpan.ParentSpanID != httpSpan.SpanID {
		t.Errorf("gRPC client span's parent %s is not the HTTP span %s", clientSpan.ParentSpanID, httpSpan.SpanID)
	}
	if serverSpan.ParentSpanID != clientSpan.SpanID {
		t.Errorf("progress server span's parent %s is not the client span %s", serverSpan.ParentSpanID, clientSpan.SpanID)
	}
	for _, sp := range sqlSpans {
		if sp.ParentSpanID != serverSpan.SpanID {
			t.Errorf("SQL span %q's parent %s is not the progress server span %s", sp.Name, sp.ParentSpanID, serverSpan.SpanID)
		}
		if !strings.Contains(sp.Attributes["db.query.text"], "children") {
			t.Errorf("SQL span %q lacks its query text: %v", sp.Name, sp.Attributes)
		}
	}
	for _, sp := range collector.Spans() {
		for k, v := range sp.Attributes {
			if strings.Contains(v, s.adminToken) {
				t.Errorf("span %q attribute %s carries the bearer token", sp.Name, k)
			}
		}
	}
}

// TestTracezWithoutJaeger checks the zero-setup view: with no exporter
// configured, recent spans and their latencies are on /debug/tracez.
func TestTracezWithoutJaeger(t *testing.T) {
	s := startSuite(t)
	s.family(t)
	r := s.call(t, "GET", "/debug/tracez", "", "")
	if r.status != 200 {
		t.Fatalf("tracez: %d", r.status)
	}
	for _, want := range []string{"kinbridge.progress.v1.ProgressService/CreateChild", "POST /v1/children"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("tracez lacks %q", want)
		}
	}
}
