package progress_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/progress"
)

// BenchmarkChainVsBare measures what the server chain costs a call: one
// progress service, registered both on grpcserver.New with everything
// `kinbridge serve` gives it (recovery, logging, auth, rate limits in
// process, validation, tracing and metrics) and on a plain
// grpc.NewServer whose one interceptor sets the caller's principal; each
// sub-benchmark calls GetChild over loopback. chain-redis is the chain
// with its rate limits in Redis (--redis-url), skipped without Redis.
// `make bench` runs it (bench/chain) and reports chain/bare.
func BenchmarkChainVsBare(b *testing.B) {
	ctx := b.Context()
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, serviceKey, _ := ed25519.GenerateKey(rand.Reader)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		b.Fatal(err)
	}
	// Logs go to a file, as serve's go to stderr: writing them is part
	// of the chain's cost.
	logs, err := os.Create(filepath.Join(b.TempDir(), "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logs.Close()
	tel, err := telemetry.Init(ctx, telemetry.Config{LogOutput: logs})
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	svc, err := progress.New(ctx, progress.Config{
		DSN:    "sqlite:" + filepath.Join(b.TempDir(), "progress.db"),
		Logger: tel.Logger("progress"), TracerProvider: tel.TracerProvider("progress"), MeterProvider: tel.MeterProvider(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()

	token, err := auth.NewUserIssuer(userKey).Issue("root", true, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)

	// A limiter as serve builds it, with limits no benchmark reaches: the
	// limiter's work is measured, never a refusal.
	limiter := func(redisURL string) *ratelimit.Limiter {
		store, closeStore, err := ratelimit.Open(ratelimit.Config{RedisURL: redisURL, Secret: serviceKey.Seed(),
			Logger: tel.Logger("ratelimit"), MeterProvider: tel.MeterProvider()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = closeStore() })
		high := ratelimit.Limit{Rate: 1e9, Burst: 1e9}
		return ratelimit.New(store, "progress", ratelimit.Limits{User: high, Service: high}, tel.MeterProvider())
	}
	chain := func(l *ratelimit.Limiter) progressv1.ProgressServiceClient {
		srv, err := grpcserver.New(grpcserver.Options{Logger: tel.Logger("progress"), TracerProvider: tel.TracerProvider("progress"),
			MeterProvider: tel.MeterProvider(), Verifier: verifier, RateLimiter: l})
		if err != nil {
			b.Fatal(err)
		}
		svc.Register(srv)
		return serve(b, func(lis net.Listener) error { return srv.Serve(ctx, lis, time.Second) }, srv.Stop)
	}
	admin := auth.Principal{Subject: "root", Admin: true, Issuer: auth.Issuer}
	bare := grpc.NewServer(grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			return handler(auth.NewContext(ctx, admin), req)
		}))
	svc.Register(bare)

	chainClient := chain(limiter(""))
	bareClient := serve(b, bare.Serve, bare.Stop)
	child, err := chainClient.CreateChild(authed, &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, client progressv1.ProgressServiceClient, ctx context.Context) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.GetChild(ctx, &progressv1.GetChildRequest{Name: child.Name}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("chain", func(b *testing.B) { get(b, chainClient, authed) })
	b.Run("bare", func(b *testing.B) { get(b, bareClient, ctx) })
	b.Run("chain-redis", func(b *testing.B) {
		get(b, chain(limiter(testenv.Redis(b))), authed)
	})
}

// serve serves on a loopback port until the benchmark ends and returns a
// client of it.
func serve(b *testing.B, run func(net.Listener) error, stop func()) progressv1.ProgressServiceClient {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = run(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		conn.Close()
		stop()
		<-done
	})
	return progressv1.NewProgressServiceClient(conn)
}
