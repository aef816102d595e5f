package gateway_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/kinbridge/kinbridge/gateway"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
)

// BenchmarkRESTHop counts what the gateway hop costs a read: GetChild as
// REST through the gateway (as serve builds it: token check, rate limits,
// tracing, metrics) to a gRPC server with the full chain, against the same
// call made to that server directly over gRPC. Every span is recorded and
// handed to an exporter that drops it, so tracing's work in the process is
// counted and no network is. The service is a stand-in that answers at
// once (the gateway may not import a service), so the figures are the
// hop's and the chain's alone. Allocations per op are the figure to read
// (-benchmem): wall time here includes the HTTP and gRPC clients.
func BenchmarkRESTHop(b *testing.B) {
	ctx := b.Context()
	tel, err := telemetry.Init(ctx, telemetry.Config{LogOutput: io.Discard, SpanExporter: dropSpans{}})
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, serviceKey, _ := ed25519.GenerateKey(rand.Reader)
	// One verifier for the gateway and the server, as serve shares one.
	verifier, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		b.Fatal(err)
	}
	store, closeStore, err := ratelimit.Open(ratelimit.Config{Secret: serviceKey.Seed(), MeterProvider: tel.MeterProvider()})
	if err != nil {
		b.Fatal(err)
	}
	defer closeStore()
	// Limits no benchmark reaches: the limiters' work is measured, never a
	// refusal.
	high := ratelimit.Limit{Rate: 1e9, Burst: 1e9}

	srv, err := grpcserver.New(grpcserver.Options{Logger: tel.Logger("progress"), TracerProvider: tel.TracerProvider("progress"),
		MeterProvider: tel.MeterProvider(), Verifier: verifier,
		RateLimiter: ratelimit.New(store, "progress", ratelimit.Limits{User: high, Service: high}, tel.MeterProvider())})
	if err != nil {
		b.Fatal(err)
	}
	child := &progressv1.Child{Name: "children/c1", DisplayName: "Ada"}
	progressv1.RegisterProgressServiceServer(srv, &hopProgress{child: child})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srvCtx, stopSrv := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(srvCtx, lis, time.Second) }()
	defer func() { stopSrv(); <-served }()

	gw, err := gateway.New(ctx, gateway.Config{
		ProgressTarget: lis.Addr().String(), MediaTarget: "127.0.0.1:1", NotificationTarget: "127.0.0.1:1",
		Verifier:    verifier,
		Timeout:     5 * time.Second,
		RateLimiter: ratelimit.New(store, "gateway", ratelimit.Limits{User: high, Address: high}, tel.MeterProvider()),
		Logger:      tel.Logger("gateway"), TracerProvider: tel.TracerProvider("gateway"), MeterProvider: tel.MeterProvider(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	web := httptest.NewServer(gw.Handler())
	defer web.Close()

	token, err := auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("rest", func(b *testing.B) {
		client := web.Client()
		req, err := http.NewRequest(http.MethodGet, web.URL+"/v1/"+child.Name, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.Run("grpc", func(b *testing.B) {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		client := progressv1.NewProgressServiceClient(conn)
		authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.GetChild(authed, &progressv1.GetChildRequest{Name: child.Name}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// hopProgress answers GetChild at once with the same child.
type hopProgress struct {
	progressv1.UnimplementedProgressServiceServer
	child *progressv1.Child
}

func (p *hopProgress) GetChild(context.Context, *progressv1.GetChildRequest) (*progressv1.Child, error) {
	return p.child, nil
}

// dropSpans is an exporter that drops what it is given.
type dropSpans struct{}

func (dropSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (dropSpans) Shutdown(context.Context) error                             { return nil }
