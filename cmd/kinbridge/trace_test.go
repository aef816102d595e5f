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

// TestRecordingIsOneTraceAcrossTheOutbox follows "a teacher records a
// grade -> the parent's feed" as one trace: the REST call, progress and its
// SQL, the outbox relay's delivery (asynchronous, continuing the request's
// trace), notification's Publish, its question to progress about the
// guardians, and the inbox write. Caches are off so every hop shows.
func TestRecordingIsOneTraceAcrossTheOutbox(t *testing.T) {
	collector := telemetrytest.NewCollector(t)
	collector.Env(t)
	s := startSuite(t, "--guardian-cache-ttl", "0", "--access-cache-ttl", "0")
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	r := s.call(t, "POST", "/v1/"+child+"/assessments", teacher,
		`{"subject":"Math","title":"Traced quiz","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01"}`)
	if r.status != 200 {
		t.Fatalf("record: %d %s", r.status, r.body)
	}
	traceID := r.header.Get("X-Trace-Id")

	find := func(spans []telemetrytest.Span, service string, kind int32, name string) *telemetrytest.Span {
		for i := range spans {
			sp := &spans[i]
			if sp.TraceID == traceID && sp.Service == service && sp.Kind == kind && strings.Contains(sp.Name, name) {
				return sp
			}
		}
		return nil
	}
	const kindProducer = 4
	var spans []telemetrytest.Span
	collector.WaitFor(t, 20*time.Second, func(all []telemetrytest.Span) bool {
		spans = all
		for _, want := range []struct {
			service string
			kind    int32
			name    string
		}{{"gateway", kindServer, "POST"}, {"progress", kindServer, "CreateAssessment"}, {"progress", kindProducer, "outbox"},
			{"progress", kindClient, "Publish"}, {"notification", kindServer, "Publish"},
			{"notification", kindClient, "ListGuardians"}, {"progress", kindServer, "ListGuardians"}} {
			if find(all, want.service, want.kind, want.name) == nil {
				return false
			}
		}
		return true
	})
	httpSpan := find(spans, "gateway", kindServer, "POST")
	create := find(spans, "progress", kindServer, "CreateAssessment")
	deliver := find(spans, "progress", kindProducer, "outbox")
	publishClient := find(spans, "progress", kindClient, "Publish")
	publish := find(spans, "notification", kindServer, "Publish")
	guardiansClient := find(spans, "notification", kindClient, "ListGuardians")
	guardians := find(spans, "progress", kindServer, "ListGuardians")
	for name, sp := range map[string]*telemetrytest.Span{"gateway HTTP": httpSpan, "progress CreateAssessment": create,
		"outbox delivery": deliver, "Publish client": publishClient, "notification Publish": publish,
		"ListGuardians client": guardiansClient, "progress ListGuardians": guardians} {
		if sp == nil {
			t.Fatalf("no %s span in trace %s", name, traceID)
		}
	}
	parent := func(child, parent *telemetrytest.Span, what string) {
		t.Helper()
		if child.ParentSpanID != parent.SpanID {
			t.Errorf("%s: parent %s, want %s (%s)", what, child.ParentSpanID, parent.SpanID, parent.Name)
		}
	}
	parent(publishClient, deliver, "the Publish call runs inside the outbox delivery")
	parent(publish, publishClient, "notification's Publish continues progress's call")
	parent(guardiansClient, publish, "the guardian lookup is made while publishing")
	parent(guardians, guardiansClient, "progress answers the guardian lookup")
	// The delivery is asynchronous, yet it stays in the request's trace.
	if deliver.TraceID != create.TraceID {
		t.Errorf("the outbox delivery left the request's trace")
	}
	inbox := false
	for _, sp := range spans {
		if sp.TraceID == traceID && sp.Service == "notification" && strings.Contains(sp.Attributes["db.query.text"], "INSERT INTO notifications") {
			inbox = true
		}
	}
	if !inbox {
		t.Error("no inbox write in the trace")
	}
}
