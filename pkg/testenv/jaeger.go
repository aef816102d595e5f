package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// JaegerEnv names the variable holding the base URL of the Jaeger query API
// (the JSON API under /api) that tests read traces back from.
const JaegerEnv = "KINBRIDGE_TEST_JAEGER_URL"

// JaegerOTLPEnv names the variable holding the OTLP/gRPC endpoint of the same
// Jaeger, in the form OTEL_EXPORTER_OTLP_ENDPOINT takes.
const JaegerOTLPEnv = "KINBRIDGE_TEST_JAEGER_OTLP"

// DefaultJaegerURL and DefaultJaegerOTLP are used when the variables are
// unset: the Jaeger that scripts/jaeger.sh starts on loopback.
const (
	DefaultJaegerURL  = "http://127.0.0.1:16686"
	DefaultJaegerOTLP = "http://127.0.0.1:4317"
)

// jaegerProbeTimeout bounds the reachability checks, so a machine without
// Jaeger skips quickly.
const jaegerProbeTimeout = 3 * time.Second

// jaegerUnreachable remembers query URLs that did not answer, so that a
// test binary with many Jaeger tests pays the probe once.
var jaegerUnreachable sync.Map // query URL + " " + OTLP endpoint -> error

// JaegerServer is a Jaeger a test exports spans to and reads them from.
type JaegerServer struct {
	// QueryURL is the base of the query API, without a trailing slash:
	// QueryURL+"/api/traces/{id}".
	QueryURL string
	// OTLPEndpoint is the OTLP/gRPC receiver, for OTEL_EXPORTER_OTLP_ENDPOINT.
	OTLPEndpoint string
}

// Jaeger returns the Jaeger named by KINBRIDGE_TEST_JAEGER_URL and
// KINBRIDGE_TEST_JAEGER_OTLP (defaults [DefaultJaegerURL] and
// [DefaultJaegerOTLP]) after checking that its query API answers
// /api/services and that its OTLP port accepts connections.
//
// The server is shared by every test running at the time and keeps what it
// is sent: tests find their own traces by trace id, never by service name
// alone, and never stop it.
//
// If it cannot be reached the test is skipped, or fails when
// KINBRIDGE_TEST_REQUIRE names "jaeger"; see [SkipOrFail].
func Jaeger(t testing.TB) JaegerServer {
	t.Helper()
	j := JaegerServer{QueryURL: os.Getenv(JaegerEnv), OTLPEndpoint: os.Getenv(JaegerOTLPEnv)}
	if j.QueryURL == "" {
		j.QueryURL = DefaultJaegerURL
	}
	if j.OTLPEndpoint == "" {
		j.OTLPEndpoint = DefaultJaegerOTLP
	}
	j.QueryURL = strings.TrimRight(j.QueryURL, "/")
	howTo := fmt.Sprintf("start Jaeger with scripts/jaeger.sh, or set %s to its query API (default %s) and %s to its OTLP/gRPC endpoint (default %s)",
		JaegerEnv, DefaultJaegerURL, JaegerOTLPEnv, DefaultJaegerOTLP)

	if err, ok := jaegerUnreachable.Load(j.QueryURL + " " + j.OTLPEndpoint); ok {
		SkipOrFail(t, "jaeger", fmt.Sprintf("%v; %s", err, howTo))
		return JaegerServer{}
	}
	if err := j.probe(); err != nil {
		jaegerUnreachable.Store(j.QueryURL+" "+j.OTLPEndpoint, err)
		SkipOrFail(t, "jaeger", fmt.Sprintf("%v; %s", err, howTo))
		return JaegerServer{}
	}
	return j
}

// probe asks the query API for its services and dials the OTLP port.
func (j JaegerServer) probe() error {
	transport := &http.Transport{}
	// Idle connections would outlive the test and trip goleak.
	defer transport.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), jaegerProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryURL+"/api/services", nil)
	if err != nil {
		return fmt.Errorf("%s=%s: %v", JaegerEnv, j.QueryURL, err)
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return fmt.Errorf("no Jaeger query API at %s: %v", j.QueryURL, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"data"`) {
		return fmt.Errorf("%s/api/services answers %d %.200q, not Jaeger's query API", j.QueryURL, resp.StatusCode, body)
	}

	host := j.OTLPEndpoint
	if u, err := url.Parse(j.OTLPEndpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	conn, err := (&net.Dialer{Timeout: jaegerProbeTimeout}).DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("the query API at %s answers but the OTLP endpoint %s does not: %v", j.QueryURL, j.OTLPEndpoint, err)
	}
	conn.Close()
	return nil
}
