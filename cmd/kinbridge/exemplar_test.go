package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// openMetricsAccept is what Prometheus sends when it wants exemplars.
const openMetricsAccept = "application/openmetrics-text; version=1.0.0"

// scrapeOpenMetrics returns the lines of a /metrics page negotiated as
// OpenMetrics, checking that it really was.
func scrapeOpenMetrics(t *testing.T, url string) []string {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", openMetricsAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("%s answered %q, not OpenMetrics", url, ct)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 || lines[len(lines)-1] != "# EOF" {
		t.Fatalf("%s: an OpenMetrics page ends with # EOF", url)
	}
	return lines
}

// exemplarLines returns the bucket lines of metric, for series whose labels
// contain every one of labels, that carry an exemplar naming traceID.
func exemplarLines(lines []string, metric, traceID string, labels ...string) []string {
	var out []string
	for _, l := range lines {
		if !strings.HasPrefix(l, metric+"_bucket{") {
			continue
		}
		series, exemplar, ok := strings.Cut(l, " # ")
		if !ok || !strings.Contains(exemplar, `trace_id="`+traceID+`"`) {
			continue
		}
		all := true
		for _, want := range labels {
			all = all && strings.Contains(series, want)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

// TestExemplarsNameTheTrace checks the link from a latency bucket to a
// trace: after a REST call, the OpenMetrics scrape of the metrics port has
// an exemplar carrying the call's X-Trace-Id on the HTTP server duration
// histogram (its route) and on the gRPC server duration histogram (the
// method the gateway called).
func TestExemplarsNameTheTrace(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	// GetChild is called once, here: no later measurement can take its
	// buckets' exemplars (the SDK keeps the latest one per bucket).
	r := s.call(t, "GET", "/v1/"+child, s.adminToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	traceID := r.header.Get("X-Trace-Id")
	if len(traceID) != 32 {
		t.Fatalf("X-Trace-Id = %q", traceID)
	}
	lines := scrapeOpenMetrics(t, s.metrics)
	for _, c := range []struct {
		metric, what string
		labels       []string
	}{
		{"http_server_request_duration_seconds", "the HTTP server histogram of the route", []string{`http_route="/v1/{name=children/*}"`, `http_request_method="GET"`}},
		{"rpc_server_call_duration_seconds", "the gRPC server histogram of GetChild", []string{`GetChild"`}},
	} {
		got := exemplarLines(lines, c.metric, traceID, c.labels...)
		if len(got) == 0 {
			t.Errorf("%s: no exemplar with trace_id %s on %s", s.metrics, traceID, c.what)
			continue
		}
		t.Logf("%s: %s", s.metrics, got[0])
	}
	// The classic text format has no place for exemplars; it still serves.
	resp, err := http.Get(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("a plain scrape answered %q", ct)
	}
}
