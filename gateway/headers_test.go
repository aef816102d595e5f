package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// TestHeadersCarried checks what crosses the hop now that the gateway
// copies no HTTP header into metadata and no metadata into HTTP headers:
// the caller's token and trace context (and baggage) reach the service,
// nothing else of the request does, and the answer names the trace in
// X-Trace-Id and in no Grpc-Metadata-* header.
func TestHeadersCarried(t *testing.T) {
	// serve sets the global propagator (telemetry.Init); so does this test.
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(telemetry.Propagator())
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	var (
		mu  sync.Mutex
		got metadata.MD
	)
	fake := &fakeProgress{getChild: func(ctx context.Context) (*progressv1.Child, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		got = md
		mu.Unlock()
		// As grpcserver does: the gateway must not pass it on as a header.
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-trace-id", "from-the-service"))
		return &progressv1.Child{Name: "children/a"}, nil
	}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	progressv1.RegisterProgressServiceServer(gs, fake)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)

	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub})
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	g, err := New(context.Background(), Config{
		ProgressTarget: lis.Addr().String(), MediaTarget: "127.0.0.1:1", NotificationTarget: "127.0.0.1:1",
		Verifier: v, Timeout: 5 * time.Second, TracerProvider: tp,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	token, err := auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/children/a", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set("Tracestate", "vendor=value")
	req.Header.Set("Baggage", "tenant=school-1")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "browser/1.0")
	req.Header.Set("Grpc-Metadata-Admin", "true")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}

	mu.Lock()
	md := got
	mu.Unlock()
	if a := md.Get("authorization"); len(a) != 1 || a[0] != "Bearer "+token {
		t.Errorf("authorization reaching the service = %q, want the caller's token once", a)
	}
	if tp := md.Get("traceparent"); len(tp) != 1 || !strings.Contains(tp[0], traceID) {
		t.Errorf("traceparent reaching the service = %q, want one in trace %s", tp, traceID)
	}
	if ts := md.Get("tracestate"); len(ts) != 1 || ts[0] != "vendor=value" {
		t.Errorf("tracestate reaching the service = %q, want vendor=value", ts)
	}
	if b := md.Get("baggage"); len(b) != 1 || !strings.Contains(b[0], "tenant=school-1") {
		t.Errorf("baggage reaching the service = %q, want tenant=school-1", b)
	}
	for k := range md {
		if strings.HasPrefix(k, "grpcgateway-") || k == "admin" || k == "user-agent" && strings.Contains(md.Get(k)[0], "browser") {
			t.Errorf("request header forwarded as metadata %s: %q", k, md.Get(k))
		}
	}

	if id := resp.Header.Get("X-Trace-Id"); id != traceID {
		t.Errorf("X-Trace-Id = %q, want %s", id, traceID)
	}
	for k := range resp.Header {
		if strings.HasPrefix(k, "Grpc-Metadata-") {
			t.Errorf("metadata passed back as header %s: %q", k, resp.Header.Values(k))
		}
	}
}
